"""The unbound Flask extensions every feature uses, defined in `portal.core.extensions`.

They live in core so that core's own plumbing (pagination, form submits, the rate limit) can use
them without importing anything above it; features may import them from here or from there.
"""

from portal.core.extensions import api, csrf, db, limiter, login_manager, migrate

__all__ = ["api", "csrf", "db", "limiter", "login_manager", "migrate"]
