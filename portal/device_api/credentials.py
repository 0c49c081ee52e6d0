"""Rules for device credentials: one-time activation codes and the device tokens they buy.

Codes and tokens are stored as SHA-256 hashes only: they carry enough random bits that a fast
hash suffices, and a leaked database reveals no usable credential.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, DomainError, NotFound
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api.models import ActivationCode, DeviceToken
from portal.distribution import runs
from portal.distribution.models import DistributionRun, DistributionSchedule, schedule_group
from portal.setup.models import CHANNEL, OFFLINE, ChannelDatabase, Register, Store

ACTIVATION_CODE_LIFETIME = timedelta(hours=24)
DEVICE_TOKEN_PREFIX = "hqd_"
# No 0/O, 1/I/L: codes are read aloud over the phone and typed on a register's keyboard.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 12
# How stale a device token's last use may be. A device's heartbeat already records its last
# contact (its device status); the token's last use only tells whether a token is still in use,
# before revoking it, and an hour says that. Once a minute made nearly every poll a write.
LAST_USED_GRANULARITY = timedelta(hours=1)


class WrongCredentials(DomainError):
    """An activation code or device token that does not match."""

    status = 401
    code = "unauthorized"


def issue_activation_code(database: ChannelDatabase) -> tuple[ActivationCode, str]:
    """A new one-time code for a database; earlier unused ones stop working. Shown once."""
    if not database.active:
        raise Conflict(f"Channel database '{database.name}' is inactive; activate it at HQ first.")
    now = utcnow()
    db.session.execute(
        sa.update(ActivationCode)
        .where(
            ActivationCode.channel_database_id == database.id,
            ActivationCode.used_at.is_(None),
            ActivationCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    code = "-".join(raw[i : i + 4] for i in range(0, _CODE_LENGTH, 4))
    actor, _ = audit.current_actor()
    activation = ActivationCode(
        channel_database=database,
        code_hash=secret_hash(_normalise_code(code)),
        created_by=actor,
        created_at=now,
        expires_at=now + ACTIVATION_CODE_LIFETIME,
    )
    db.session.add(activation)
    db.session.flush()
    audit.record(
        "issue",
        "activation_code",
        database.name,
        after={"expires_at": activation.expires_at.isoformat()},
    )
    return activation, code


def activate(database_ref: str | int, code: str) -> tuple[DeviceToken, str, list[int]]:
    """Trade a code for a device token; returns it, its secret (shown once), and runs requested.

    A new token replaces the database's earlier ones: a replaced device must not keep access.
    The first activation requests a full package from every schedule that targets the database.
    """
    database = find_database(database_ref)
    wrong = WrongCredentials("The activation code is wrong for this database.")
    if database is None:
        raise wrong
    activation = db.session.scalar(
        sa.select(ActivationCode).where(
            ActivationCode.code_hash == secret_hash(_normalise_code(code)),
            ActivationCode.channel_database_id == database.id,
        )
    )
    if activation is None:
        raise wrong
    now = utcnow()
    if activation.used_at is not None:
        raise Conflict("This activation code was already used; ask HQ for a new one.")
    if activation.expires_at <= now:
        raise Conflict("This activation code has expired; ask HQ for a new one.")
    if not database.active:
        raise Conflict(f"Channel database '{database.name}' is inactive.")
    # Conditional, so two devices racing with one code cannot both win.
    claimed = db.session.execute(
        sa.update(ActivationCode)
        .where(ActivationCode.id == activation.id, ActivationCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if claimed != 1:
        raise Conflict("This activation code was already used; ask HQ for a new one.")
    for earlier in active_tokens(database):
        revoke(earlier, by="activation")
    secret = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = DeviceToken(
        channel_database=database,
        token_hash=secret_hash(secret),
        prefix=secret[:12],
        created_at=now,
    )
    db.session.add(token)
    first = database.activated_at is None
    if first:
        database.activated_at = now
    db.session.flush()
    audit.record("activate", "channel_database", database.name, after={"token": token.prefix})
    run_ids = [run.id for run in _first_full_packages(database)] if first else []
    return token, secret, run_ids


def find_database(ref: str | int) -> ChannelDatabase | None:
    """A database by id, name, register number (its offline one) or store number (its channel).

    A number is an id; so is a string of digits that names nothing, as store and register
    numbers may be all digits themselves.
    """
    if isinstance(ref, int):
        return _by_id(ref)
    text = str(ref).strip()
    by_name = db.session.scalar(sa.select(ChannelDatabase).filter_by(name=text))
    if by_name is not None:
        return by_name
    # Store and register numbers are kept in capitals; people type them as they like.
    number = text.upper()
    by_register = db.session.scalar(
        sa.select(ChannelDatabase)
        .join(Register, ChannelDatabase.register_id == Register.id)
        .where(Register.register_number == number, ChannelDatabase.kind == OFFLINE)
    )
    if by_register is not None:
        return by_register
    by_store = db.session.scalar(
        sa.select(ChannelDatabase)
        .join(Store, ChannelDatabase.store_id == Store.id)
        .where(Store.store_number == number, ChannelDatabase.kind == CHANNEL)
    )
    if by_store is not None or not text.isdigit():
        return by_store
    return _by_id(int(text))


def _by_id(database_id: int) -> ChannelDatabase | None:
    # Beyond the integer column's range nothing can match, and PostgreSQL would refuse the query.
    if not 0 < database_id < 2**31:
        return None
    return db.session.get(ChannelDatabase, database_id)


# Built once, as every device request runs it: SQLAlchemy then only binds the hash.
TOKEN_LOOKUP = (
    sa.select(
        DeviceToken.id.label("token_id"),
        DeviceToken.last_used_at,
        ChannelDatabase.id.label("database_id"),
        ChannelDatabase.name.label("database_name"),
    )
    .join(ChannelDatabase, ChannelDatabase.id == DeviceToken.channel_database_id)
    .where(
        DeviceToken.token_hash == sa.bindparam("token_hash"),
        DeviceToken.revoked_at.is_(None),
        ChannelDatabase.active,
    )
)
_NOTE_USE = (
    sa.update(DeviceToken)
    .where(DeviceToken.id == sa.bindparam("token_id"))
    .values(last_used_at=sa.bindparam("now"))
)


def database_for_token(secret: str) -> tuple[tuple[int, str] | None, bool]:
    """The id and name of the active database an unrevoked device token belongs to (or None),
    and whether the token's last use was written, for the caller to commit.

    One read of plain columns, as every device request starts with it and most need no more
    of the database; the last use is written at most once an hour (`LAST_USED_GRANULARITY`).
    """
    # On the session's connection: the first statement of a request has nothing to flush, and
    # the ORM's execution path would add about 50 µs of CPU to its 115 (measured).
    connection = db.session.connection()
    found = connection.execute(TOKEN_LOOKUP, {"token_hash": secret_hash(secret)}).one_or_none()
    if found is None:
        return None, False
    token_id, last_used_at, database_id, name = found
    return (database_id, name), note_use(connection, token_id, last_used_at)


def note_use(connection: sa.Connection, token_id: int, last_used_at) -> bool:
    """Write a token's last use on `connection` when it is due; whether it was written."""
    now = utcnow()
    if last_used_at is not None and now - last_used_at <= LAST_USED_GRANULARITY:
        return False
    connection.execute(_NOTE_USE, {"token_id": token_id, "now": now})
    return True


def active_tokens(database: ChannelDatabase) -> list[DeviceToken]:
    """The database's unrevoked device tokens."""
    return list(
        db.session.scalars(
            sa.select(DeviceToken).where(
                DeviceToken.channel_database_id == database.id, DeviceToken.revoked_at.is_(None)
            )
        )
    )


def tokens_of(database: ChannelDatabase) -> list[DeviceToken]:
    """Every device token the database has had, newest first."""
    return list(
        db.session.scalars(
            sa.select(DeviceToken)
            .where(DeviceToken.channel_database_id == database.id)
            .order_by(DeviceToken.id.desc())
        )
    )


def get_token(database: ChannelDatabase, token_id: int) -> DeviceToken:
    """One of the database's device tokens, or NotFound."""
    token = db.session.get(DeviceToken, token_id)
    if token is None or token.channel_database_id != database.id:
        raise NotFound(f"Device token #{token_id} does not exist for '{database.name}'.")
    return token


def revoke(token: DeviceToken, by: str | None = None) -> None:
    """Stop a device token working from now on."""
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    token.revoked_by = by or audit.current_actor()[0]
    db.session.flush()
    audit.record("revoke", "device_token", f"{token.channel_database.name}/{token.prefix}")


def _first_full_packages(database: ChannelDatabase) -> list[DistributionRun]:
    schedules = db.session.scalars(
        sa.select(DistributionSchedule)
        .join(schedule_group, schedule_group.c.schedule_id == DistributionSchedule.id)
        .where(
            schedule_group.c.group_id == database.channel_data_group_id,
            DistributionSchedule.enabled,
        )
        .order_by(DistributionSchedule.code)
    )
    requested = []
    for schedule in schedules:
        try:
            requested.append(runs.request_run(schedule, channel_database=database.id))
        except DomainError:
            continue  # the schedule sends this database nothing (e.g. every job excluded)
    return requested


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def secret_hash(secret: str) -> str:
    """The stored form of a code or token: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
