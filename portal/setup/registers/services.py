"""Rules for registers, above all the Support offline switch."""

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.search import search
from portal.core.sql import among
from portal.core.validation import FieldErrors, normalise_number
from portal.masterdata.dependents import setup_in_use
from portal.masterdata.versioning import transaction_version
from portal.setup.channels import services as channels
from portal.setup.models import Register, Store
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.stores import services as stores

REGISTER_NUMBER_MAX = 30
# Ids per statement: well below the bound-parameter limits of SQLite and PostgreSQL.
ID_CHUNK = 1000


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
    before = audit.snapshot(register)
    if "offline_profile" in data:
        register.offline_profile = offline_profiles.resolve_profile(data["offline_profile"])
    if "active" in data:
        register.active = bool(data["active"])
    db.session.flush()
    _record("update", register, before)
    if "support_offline" in data:
        set_support_offline(register, bool(data["support_offline"]))
    elif register.support_offline:
        _check_offline_possible(register)
        _sync_offline_database(register)
    return register


def set_support_offline(register: Register, enabled: bool) -> Register:
    """Switch Support offline: on creates or reuses the offline database, off deactivates it."""
    if enabled:
        _check_offline_possible(register)
    switch_support_offline([register], enabled)
    return register


def support_offline_refusals(registers: list[Register], enabled: bool) -> dict[int, str]:
    """Why Support offline cannot be switched on for some registers, by register id.

    Switching off is never refused. The same checks `set_support_offline` makes, for a whole
    selection at once, so a bulk change can leave those registers out and say why.
    """
    if not enabled:
        return {}
    refusals = {}
    for register in registers:
        try:
            _check_offline_possible(register)
        except ValidationFailed as error:
            refusals[register.id] = error.message
    new = [r.register_number for r in registers if r.offline_database is None]
    for name in channels.taken_database_names(new):
        register = next(r for r in registers if r.register_number == name)
        refusals.setdefault(
            register.id,
            f"A channel database named '{name}' already exists; store and register numbers "
            "must not clash.",
        )
    return refusals


def switch_support_offline(registers: list[Register], enabled: bool) -> list[Register]:
    """Set Support offline on registers that passed `support_offline_refusals`; the one rule.

    On creates or reactivates each offline database in its store's channel data group (an
    inactive register's stays inactive), off deactivates it and keeps it. The registers, their
    audit entries and the new databases are written a statement at a time, not a row at a time,
    so one register and a chain of them take the same path.
    """
    befores = {register.id: audit.snapshot(register) for register in registers}
    ids = [register.id for register in registers if register.support_offline != enabled]
    now = utcnow()
    # One UPDATE for the lot; the session's registers take the same values, as saved.
    for start in range(0, len(ids), ID_CHUNK):
        db.session.execute(
            sa.update(Register.__table__)
            .where(among(Register.id, ids[start : start + ID_CHUNK]))
            .values(support_offline=enabled, updated_at=now)
        )
    for register in registers:
        if register.support_offline != enabled:
            set_committed_value(register, "support_offline", enabled)
            set_committed_value(register, "updated_at", now)
    transaction_version(db.session)
    action = "enable_offline" if enabled else "disable_offline"
    audit.record_many(
        action,
        "register",
        [(r.register_number, befores[r.id], audit.snapshot(r)) for r in registers],
    )
    _sync_offline_databases(registers)
    return registers


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


def _check_offline_possible(register: Register) -> None:
    store = register.store
    # The ids answer without loading the group and profiles (a chunk of a bulk change has
    # thousands); a relationship set but not yet flushed is read where its id is still empty.
    if store.channel_data_group_id is None and store.channel_data_group is None:
        raise ValidationFailed(
            f"Store '{store.store_number}' has no channel data group; assign one to "
            "the store before enabling Support offline.",
            {"support_offline": "The store has no channel data group."},
        )
    if not _has_profile(register) and not _has_profile(store):
        raise ValidationFailed(
            f"Register '{register.register_number}' has no offline profile and its store has no "
            "default one; choose an offline profile first.",
            {"support_offline": "No offline profile for this register or its store."},
        )


def _has_profile(owner) -> bool:
    return owner.offline_profile_id is not None or owner.offline_profile is not None


def _sync_offline_database(register: Register) -> None:
    _sync_offline_databases([register])


def _sync_offline_databases(registers: list[Register]) -> None:
    # An inactive register keeps its offline database, but nothing should be built for it.
    wanted = [register for register in registers if register.support_offline and register.active]
    channels.activate_offline_databases(wanted)
    chosen = set(wanted)
    channels.deactivate_offline_databases([r for r in registers if r not in chosen])
