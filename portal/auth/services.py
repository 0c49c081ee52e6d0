"""Rules for users, passwords, browser sign-ins and API tokens."""

import hashlib
import secrets

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from portal.audit import services as audit
from portal.auth.models import ApiToken, SignIn, User
from portal.auth.roles import Role
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.search import search

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "hqp_"


def normalise_email(value: str | None) -> str:
    """Return an email address in normal form, or raise a field error."""
    try:
        return validate_email((value or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValidationFailed(f"Invalid email address: {error}", {"email": str(error)}) from None


def check_role(value: str | None) -> Role:
    """Return the role named, or raise a field error listing the valid ones."""
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join(Role)
        raise ValidationFailed(f"Unknown role '{value}'.", {"role": f"One of {valid}."}) from None


def check_password(password: str | None) -> str:
    """Return the password if long enough, or raise a field error."""
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        message = f"At least {MIN_PASSWORD_LENGTH} characters."
        raise ValidationFailed("The password is too short.", {"password": message})
    return password


def get_user(email: str) -> User:
    """The user with this email, or NotFound."""
    user = db.session.scalar(sa.select(User).filter_by(email=email.strip().lower()))
    if user is None:
        raise NotFound(f"User '{email}' does not exist.")
    return user


def get_user_by_id(user_id: int) -> User:
    """The user with this id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"User #{user_id} does not exist.")
    return user


def users_query(q: str | None = None) -> sa.Select:
    """Users by email, optionally matching a search."""
    stmt = sa.select(User).order_by(User.email)
    stmt = search(stmt, q, User.email, User.name)
    return stmt


def create_user(email: str, role: str, password: str, name: str = "") -> User:
    """Create a user with a hashed password (scrypt)."""
    email = normalise_email(email)
    if db.session.scalar(sa.select(User.id).filter_by(email=email)) is not None:
        raise Conflict(f"User '{email}' already exists.", {"email": "Already taken."})
    user = User(
        email=email,
        name=(name or "").strip()[:100],
        role=check_role(role).value,
        password_hash=generate_password_hash(check_password(password)),
    )
    db.session.add(user)
    db.session.flush()
    audit.record("create", "user", user.email, after=_snapshot(user))
    return user


def update_user(user: User, data: dict, acting: User | None = None) -> User:
    """Change a user's name, role, active flag or password; `acting` is who asks for it."""
    if acting is not None and acting.id == user.id:
        _refuse_self_lockout(user, data)
    before = _snapshot(user)
    was_active = user.active
    if "name" in data:
        user.name = (data["name"] or "").strip()[:100]
    if "role" in data:
        user.role = check_role(data["role"]).value
    if "active" in data:
        user.active = bool(data["active"])
    if data.get("password"):
        user.password_hash = generate_password_hash(check_password(data["password"]))
    db.session.flush()
    after = _snapshot(user)
    if data.get("password"):
        after["password"] = "changed"
    audit.record("update", "user", user.email, before, after)
    if data.get("password") or (was_active and not user.active):
        # Whoever held a session under the old password, or the account, is out; someone
        # changing their own password stays signed in in the browser they did it from.
        keep = acting.sign_in_token if acting is not None and acting.id == user.id else None
        sign_out_everywhere(user, keep=keep)
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = db.session.scalar(sa.select(User).filter_by(email=(email or "").strip().lower()))
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user


def start_sign_in(user: User) -> str:
    """Record a browser signing in as `user`; returns the secret its cookies carry."""
    now = utcnow()
    # Sign-ins of browsers that closed without signing out go once they expire.
    db.session.execute(sa.delete(SignIn).where(SignIn.user_id == user.id, SignIn.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    lifetime = current_app.config["REMEMBER_COOKIE_DURATION"]
    db.session.add(
        SignIn(user_id=user.id, token_hash=_hash(secret), created_at=now, expires_at=now + lifetime)
    )
    db.session.flush()
    user.sign_in_token = secret
    return secret


def user_for_sign_in(secret: str) -> User | None:
    """The active user of a browser's unexpired sign-in, or None."""
    stmt = (
        sa.select(User)
        .join(SignIn, SignIn.user_id == User.id)
        .where(SignIn.token_hash == _hash(secret), SignIn.expires_at > utcnow(), User.active)
    )
    user = db.session.scalar(stmt)
    if user is not None:
        user.sign_in_token = secret
    return user


def end_sign_in(secret: str | None) -> None:
    """Sign one browser out: its session and remember cookies stop working, copies too."""
    if secret:
        db.session.execute(sa.delete(SignIn).where(SignIn.token_hash == _hash(secret)))


def sign_out_everywhere(user: User, keep: str | None = None) -> int:
    """End every browser sign-in of a user but `keep`'s; returns how many ended."""
    stmt = sa.delete(SignIn).where(SignIn.user_id == user.id)
    if keep:
        stmt = stmt.where(SignIn.token_hash != _hash(keep))
    ended = db.session.execute(stmt).rowcount
    audit.record("sign_out_everywhere", "user", user.email, after={"sign_ins_ended": ended})
    return ended


def sign_in_count(user: User) -> int:
    """How many browsers are signed in as a user now."""
    stmt = sa.select(sa.func.count()).where(SignIn.user_id == user.id, SignIn.expires_at > utcnow())
    return db.session.scalar(stmt) or 0


def tokens_of(user: User) -> list[ApiToken]:
    """A user's API tokens, newest first, revoked ones included."""
    stmt = (
        sa.select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return list(db.session.scalars(stmt))


def get_token(token_id: int, owner: User) -> ApiToken:
    """One of `owner`'s API tokens, or NotFound (also for another user's token)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != owner.id:
        raise NotFound(f"API token #{token_id} does not exist.")
    return token


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Issue an API token for a user; returns the row and the secret, shown only once."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "").strip()[:100] or "API token",
        token_hash=_hash(secret),
        prefix=secret[:12],
        created_at=utcnow(),
    )
    db.session.add(token)
    db.session.flush()
    audit.record("create", "api_token", f"{user.email}/{token.prefix}", after={"name": token.name})
    return token, secret


def revoke_token(token: ApiToken) -> None:
    """Revoke a token; requests bearing it are refused from now on."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        key = f"{token.user.email}/{token.prefix}"
        audit.record("revoke", "api_token", key, after={"name": token.name})


def user_for_token(secret: str) -> User | None:
    """The active user owning this unrevoked token, or None; records when it was used."""
    token = db.session.scalar(sa.select(ApiToken).filter_by(token_hash=_hash(secret)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    return token.user


def _hash(secret: str) -> str:
    # Tokens and sign-ins carry 256 random bits, so a fast hash is enough; a KDF only guards
    # weak passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


def _refuse_self_lockout(user: User, data: dict) -> None:
    # Someone else must do it, so the portal is never left without a working admin by mistake.
    if "active" in data and not data["active"] and user.active:
        message = "You cannot deactivate your own account; ask another admin."
        raise ValidationFailed(message, {"active": "Not for your own account."})
    if "role" in data and data["role"] != user.role and user.role == Role.ADMIN:
        message = "You cannot remove your own admin role; ask another admin."
        raise ValidationFailed(message, {"role": "Not for your own account."})


def _snapshot(user: User) -> dict:
    values = audit.snapshot(user)
    values.pop("password_hash", None)
    return values
