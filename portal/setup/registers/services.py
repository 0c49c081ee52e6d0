"""Rules for registers, above all the Support offline switch."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.search import search
from portal.core.sql import among, batches, update_ids
from portal.core.validation import FieldErrors, normalise_number
from portal.masterdata.dependents import setup_in_use
from portal.masterdata.versioning import transaction_version
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDatabase, Register, Store
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.stores import services as stores

REGISTER_NUMBER_MAX = 30
# A register's own profile left as it is, when asking whether it could have Support offline.
KEEP = object()


@dataclass(frozen=True)
class OfflineState:
    """What the Support offline rule reads of a register, its store and its offline database."""

    id: int
    register_number: str
    support_offline: bool
    active: bool
    offline_profile_id: int | None
    store_number: str
    store_group_id: int | None
    store_profile_id: int | None
    has_database: bool
    # Another channel database already has the register's number as its name.
    name_taken: bool


@dataclass(frozen=True)
class Refusal:
    """Why a register cannot have Support offline: the message, and the field's (None: a clash)."""

    message: str
    field: str | None


def get_register(register_number: str) -> Register:
    """The register with this number, or NotFound."""
    register = db.session.scalar(
        sa.select(Register).filter_by(register_number=register_number.upper())
    )
    if register is None:
        raise NotFound(f"Register '{register_number}' does not exist.")
    return register


def registers_query(q: str | None = None, store_number: str | None = None) -> sa.Select:
    """Registers by number, optionally matching a search or belonging to one store."""
    stmt = sa.select(Register).order_by(Register.register_number)
    stmt = search(stmt, q, Register.register_number)
    if store_number:
        stmt = stmt.join(Register.store).where(Store.store_number == store_number.upper())
    return stmt


def create_register(data: dict) -> Register:
    """Create a register in a store; with Support offline on, also its offline database."""
    number = normalise_number(data.get("register_number"), "register_number", REGISTER_NUMBER_MAX)
    if db.session.scalar(sa.select(Register.id).filter_by(register_number=number)) is not None:
        raise Conflict(
            f"Register '{number}' already exists.", {"register_number": "Already taken."}
        )
    errors = FieldErrors()
    store = profile = None
    with errors.check():
        store = stores.resolve_store(data.get("store"))
    with errors.check():
        profile = offline_profiles.resolve_profile(data.get("offline_profile"))
    errors.raise_if_any()
    register = Register(
        register_number=number,
        store=store,
        offline_profile=profile,
        support_offline=False,
        active=bool(data.get("active", True)),
    )
    db.session.add(register)
    db.session.flush()
    _record("create", register)
    if data.get("support_offline"):
        set_support_offline(register, True)
    return register


def update_register(register: Register, data: dict) -> Register:
    """Change a register's profile, active flag or Support offline; its store is fixed."""
    if "register_number" in data and (
        (data["register_number"] or "").upper() != register.register_number
    ):
        raise ValidationFailed(
            "A register number cannot be changed once the register exists.",
            {"register_number": "Cannot be changed."},
        )
    if "store" in data and (data["store"] or "").upper() != register.store.store_number:
        raise ValidationFailed(
            "A register cannot move to another store; create a new register there.",
            {"store": "Cannot be changed."},
        )
    values = {}
    if "offline_profile" in data:
        profile = offline_profiles.resolve_profile(data["offline_profile"])
        values["offline_profile_id"] = profile.id if profile else None
    if "active" in data:
        values["active"] = bool(data["active"])
    db.session.flush()
    if "support_offline" not in data and register.support_offline:
        _raise(
            offline_refusal(
                offline_states([register.id])[0], values.get("offline_profile_id", KEEP)
            )
        )
    update_registers([register.id], values)
    if "support_offline" in data:
        set_support_offline(register, bool(data["support_offline"]))
    return register


def update_registers(ids: list[int], values: dict) -> None:
    """Set a profile (`offline_profile_id`) or the active flag on registers; the one rule.

    An audit entry for each register that changed; the offline databases of registers with
    Support offline follow their active flag. Registers are read and written a statement at a
    time, so one register and a chain of them take the same path.
    """
    befores = update_ids(Register.__table__, ids, values, Register.register_number)
    transaction_version(db.session)
    audit.record_many(
        "update",
        "register",
        [(number, dict(zip(values, old, strict=True)), values) for number, *old in befores],
    )
    channels.sync_offline_databases(ids)
    _expire(ids)


def set_support_offline(register: Register, enabled: bool) -> Register:
    """Switch Support offline: on creates or reuses the offline database, off deactivates it."""
    db.session.flush()
    if enabled:
        _raise(offline_refusal(offline_states([register.id])[0]))
    switch_support_offline([register.id], enabled)
    return register


def offline_states(ids: list[int]) -> list[OfflineState]:
    """What the Support offline rule reads of these registers, in one query (by number)."""
    other = aliased(ChannelDatabase)
    name_taken = (
        sa.select(other.id)
        .where(other.name == Register.register_number)
        .where(sa.or_(other.register_id.is_(None), other.register_id != Register.id))
        .exists()
    )
    stmt = (
        sa.select(
            Register.id,
            Register.register_number,
            Register.support_offline,
            Register.active,
            Register.offline_profile_id,
            Store.store_number,
            Store.channel_data_group_id,
            Store.offline_profile_id,
            ChannelDatabase.id.is_not(None),
            name_taken,
        )
        .join(Store, Store.id == Register.store_id)
        .outerjoin(ChannelDatabase, ChannelDatabase.register_id == Register.id)
        .order_by(Register.register_number)
    )
    return [
        OfflineState(*row)
        for part in batches(ids)
        for row in db.session.execute(stmt.where(among(Register.id, part)))
    ]


def offline_refusal(state: OfflineState, profile_id=KEEP) -> Refusal | None:
    """Why this register could not have Support offline (with `profile_id` as its own profile,
    if given), or None: the check a single switch and a bulk one both make."""
    if state.store_group_id is None:
        return Refusal(
            f"Store '{state.store_number}' has no channel data group; assign one to the store "
            "before enabling Support offline.",
            "The store has no channel data group.",
        )
    own = state.offline_profile_id if profile_id is KEEP else profile_id
    if own is None and state.store_profile_id is None:
        return Refusal(
            f"Register '{state.register_number}' has no offline profile and its store has no "
            "default one; choose an offline profile first.",
            "No offline profile for this register or its store.",
        )
    if state.name_taken and not state.has_database:
        return Refusal(
            f"A channel database named '{state.register_number}' already exists; store and "
            "register numbers must not clash.",
            None,
        )
    return None


def switch_support_offline(ids: list[int], enabled: bool) -> None:
    """Set Support offline on registers that `offline_refusal` let through; the one rule.

    On creates or reactivates each offline database in its store's channel data group (an
    inactive register's stays inactive), off deactivates it and keeps it. The registers, their
    audit entries and the databases are written a statement at a time, not a row at a time,
    so one register and a chain of them take the same path.
    """
    switched = []
    for part in batches(ids):
        switched += db.session.scalars(
            sa.update(Register.__table__)
            .where(among(Register.id, part))
            .where(Register.support_offline.is_not(enabled))
            .values(support_offline=enabled, updated_at=utcnow())
            .returning(Register.register_number)
        ).all()
    switched.sort()
    transaction_version(db.session)
    action = "enable_offline" if enabled else "disable_offline"
    audit.record_many(
        action,
        "register",
        [
            (number, {"support_offline": not enabled}, {"support_offline": enabled})
            for number in switched
        ],
    )
    channels.sync_offline_databases(ids)
    _expire(ids)


def delete_register(register: Register) -> None:
    """Delete a register that never had an offline database and that no master data names."""
    if register.offline_database is not None:
        raise Conflict(
            f"Register '{register.register_number}' has an offline database with history; "
            "deactivate the register instead of deleting it."
        )
    if reason := setup_in_use("register", register.register_number):
        raise Conflict(f"Register '{register.register_number}' is not deleted. {reason}")
    _record("delete", register, audit.snapshot(register), deleted=True)
    db.session.delete(register)
    db.session.flush()


def _record(action: str, register: Register, before=None, deleted: bool = False) -> None:
    """Audit a change of a register and give it a change version.

    Job 1090 sends a store's registers whole; the version gives the next run a new watermark,
    so the stores receive the change.
    """
    transaction_version(db.session)
    after = None if deleted else audit.snapshot(register)
    audit.record(action, "register", register.register_number, before, after)


def refusal_error(refusal: Refusal) -> Conflict | ValidationFailed:
    """The error refusing a single register's change, as its form and the API say it."""
    if refusal.field is None:
        return Conflict(refusal.message)
    return ValidationFailed(refusal.message, {"support_offline": refusal.field})


def _raise(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise refusal_error(refusal)


def _expire(ids: list[int]) -> None:
    """Registers held by the session read their row again: statements bypassed it."""
    wanted = set(ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Register) and obj.id in wanted:
            db.session.expire(obj)
