"""One-time links where a person sets their own password: an invitation or a reset.

A link carries a signed token naming the user and a digest of their password hash as it was
when the link was made. Setting a password changes the hash, so the link (and every other link
made before) stops working: single use with nothing stored. Invitations last 72 hours, resets
2 hours; a link of one kind never opens the other's page.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.audit import services as audit
from portal.auth import services
from portal.auth.models import User
from portal.core.errors import DomainError, ValidationFailed
from portal.core.extensions import db
from portal.core.mail import send_mail, send_mail_later

INVITE = "invite"
RESET = "reset"
VALID_FOR = {INVITE: timedelta(hours=72), RESET: timedelta(hours=2)}
# No password verifies against this: werkzeug refuses a hash without its method prefix.
_NO_PASSWORD = "!"


class LinkInvalid(DomainError):
    """The link is unknown, expired, used already or for a deactivated account."""

    status = 410
    code = "gone"


def invite_user(email: str, role: str, name: str = "") -> tuple[User, str]:
    """Create a user with no password yet; returns it and its invitation link."""
    user = services.create_user(email, role, secrets.token_urlsafe(24), name)
    user.password_hash = _NO_PASSWORD + secrets.token_hex(16)
    db.session.flush()
    audit.record("invite", "user", user.email, after={"role": user.role, "name": user.name})
    return user, link_for(user, INVITE)


def link_for(user: User, purpose: str) -> str:
    """The full URL of a one-time link for the user."""
    token = _serializer(purpose).dumps({"user": user.id, "state": _state(user)})
    path = url_for(f"auth.password_{purpose}", token=token)
    base = current_app.config["PORTAL_URL"] or request.host_url.rstrip("/")
    return base + path


def user_for_link(token: str, purpose: str) -> User:
    """The user a link is for, while it is valid; LinkInvalid otherwise."""
    try:
        payload = _serializer(purpose).loads(token, max_age=VALID_FOR[purpose].total_seconds())
    except SignatureExpired:
        raise LinkInvalid(_expired(purpose)) from None
    except (BadSignature, KeyError):
        raise LinkInvalid("This link is not valid; ask for a new one.") from None
    user = db.session.get(User, payload.get("user")) if isinstance(payload, dict) else None
    if user is None or not user.active or payload.get("state") != _state(user):
        raise LinkInvalid("This link was used already or is no longer valid; ask for a new one.")
    return user


def set_password(token: str, purpose: str, password: str, confirm: str) -> User:
    """Set the password a link's user chose; every sign-in of theirs ends, the link too."""
    user = user_for_link(token, purpose)
    services.check_password(password)
    if password != confirm:
        raise ValidationFailed(
            "The two passwords differ.", {"confirm": "The two passwords differ."}
        )
    services.update_user(user, {"password": password})
    audit.record("set_password", "user", user.email, after={"through": f"{purpose} link"})
    return user


def mail_reset_link(email: str) -> None:
    """Mail a reset link if an active user has this address, in the background either way."""
    user = db.session.scalar(sa.select(User).filter_by(email=(email or "").strip().lower()))
    if user is None or not user.active:
        current_app.logger.info("Password reset asked for an unknown or inactive address")
        return
    if current_app.config["PORTAL_ENV"] == "production" and not current_app.config["PORTAL_URL"]:
        # Whoever asks chooses the Host header: a link built from it could lead to their site.
        current_app.logger.error("PORTAL_URL is not set: no password reset mail is sent")
        return
    link = link_for(user, RESET)
    body = (
        f"Someone (hopefully you) asked to reset the password of {user.email} on HQ Portal.\n\n"
        f"Choose a new password here within 2 hours:\n{link}\n\n"
        "If it was not you, ignore this message: your password stays as it is.\n"
    )
    audit.record("reset_link", "user", user.email, after={"valid_hours": 2})
    send_mail_later(user.email, "Reset your HQ Portal password", body)


def mail_invitation(user: User, link: str) -> bool:
    """Mail an invitation link; False when no mail server is set (it went to the log)."""
    body = (
        f"You are invited to HQ Portal as {user.email} (role: {user.role}).\n\n"
        f"Choose your password here within 72 hours:\n{link}\n"
    )
    return send_mail(user.email, "Your HQ Portal account", body)


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"password-{purpose}")


def _state(user: User) -> str:
    # A digest, not the hash itself: the token is readable by whoever holds the link.
    return hashlib.sha256(f"{user.id}:{user.password_hash}".encode()).hexdigest()[:32]


def _expired(purpose: str) -> str:
    hours = int(VALID_FOR[purpose].total_seconds() // 3600)
    return f"This link expired (it was valid for {hours} hours); ask for a new one."
