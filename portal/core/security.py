"""Defences every request shares: security headers, the rate limit on failed sign-ins, and no
text in query arguments and forms that no column can store."""

import os

from flask import Flask, Response, request
from flask_limiter.util import get_remote_address

from portal.core.extensions import limiter
from portal.core.storable import refuse_unstorable_in_query_and_form

FAILED_SIGN_IN_LIMIT = "10 per 15 minutes"

# Scripts and styles come only from our own static files; Bootstrap's icons are data: images.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Bind the rate limiter and add the security headers to every response."""
    # Several web processes must share their counts, so Redis when there is one.
    app.config.setdefault("RATELIMIT_STORAGE_URI", os.environ.get("REDIS_URL") or "memory://")
    # A Redis outage must not lock everyone out of the portal: count in memory meanwhile.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    app.before_request(refuse_unstorable_in_query_and_form)
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    """Forbid framing, MIME sniffing, foreign scripts and styles, and cross-site referrers."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def sign_in_key() -> str:
    """Count failures per email and address: guessing one password does not lock out the rest."""
    email = (request.form.get("email") or "").strip().lower()
    return f"{email}|{get_remote_address()}"


def sign_in_failed(response: Response) -> bool:
    """Whether a sign-in attempt failed: a successful one redirects."""
    return response.status_code != 302
