"""Who is calling and what they may do: guards for pages (browser sessions) and the API (Bearer
tokens), and the `can` templates use."""

from functools import wraps

from flask import abort, g, request
from flask_login import current_user, login_required

from portal.audit import services as audit
from portal.auth import services as auth
from portal.auth.roles import Permission, can
from portal.core.errors import Forbidden, Unauthorized
from portal.core.extensions import db


def permission_required(permission: Permission):
    """Guard an HTML view: sign-in first, then a 403 page if the role lacks the permission."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not can(current_user.role, permission):
                abort(403)
            audit.set_actor(current_user.email, "web")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def api_permission_required(permission: Permission):
    """Guard an API endpoint: a valid Bearer token whose user holds the permission."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = _bearer_user()
            if not can(user.role, permission):
                raise Forbidden(f"The role '{user.role}' may not do this.")
            g.api_user = user
            audit.set_actor(user.email, "api")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _bearer_user():
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    user = auth.user_for_token(secret.strip())
    if user is None:
        raise Unauthorized("The API token is unknown, revoked, or its user is deactivated.")
    # Record last use now: read-only requests never reach a commit of their own.
    db.session.commit()
    return user


def inject_permissions():
    """Let templates ask `can('change_setup')` to show only what the user may do."""

    def can_do(permission: str) -> bool:
        return current_user.is_authenticated and can(current_user.role, Permission(permission))

    return {"can": can_do}
