"""Rules for channel data groups and channel databases."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow
from portal.core.search import search
from portal.core.sql import among
from portal.core.validation import normalise_name
from portal.masterdata.references import unknown
from portal.setup.models import (
    CHANNEL,
    OFFLINE,
    ChannelDatabase,
    ChannelDataGroup,
    Register,
    Store,
)

DESCRIPTION_MAX = 255
# Names per lookup query: well below the bound-parameter limits of SQLite and PostgreSQL.
NAME_CHUNK = 500


def get_group(name: str) -> ChannelDataGroup:
    """The channel data group with this name, or NotFound."""
    group = db.session.scalar(sa.select(ChannelDataGroup).filter_by(name=name))
    if group is None:
        raise NotFound(f"Channel data group '{name}' does not exist.")
    return group


def resolve_group(name: str | None, field: str = "channel_data_group") -> ChannelDataGroup | None:
    """Turn a group name given as input into the group (None stays None), or a field error."""
    if name is None or name == "":
        return None
    group = db.session.scalar(sa.select(ChannelDataGroup).filter_by(name=name))
    if group is None:
        raise ValidationFailed(
            f"Channel data group '{name}' does not exist.",
            {field: unknown("channel data group", "channel data groups", name)},
        )
    return group


def groups_query(q: str | None = None) -> sa.Select:
    """Channel data groups by name, optionally matching a search."""
    stmt = sa.select(ChannelDataGroup).order_by(ChannelDataGroup.name)
    return search(stmt, q, ChannelDataGroup.name)


def create_group(name: str, description: str | None = "") -> ChannelDataGroup:
    """Create an empty channel data group with a unique name."""
    name = normalise_name(name, "name", 60)
    _check_group_name_free(name)
    group = ChannelDataGroup(name=name, description=_description(description))
    db.session.add(group)
    db.session.flush()
    audit.record("create", "channel_data_group", group.name, after=audit.snapshot(group))
    return group


def update_group(group: ChannelDataGroup, data: dict) -> ChannelDataGroup:
    """Rename a group or change its description."""
    before = audit.snapshot(group)
    if "name" in data:
        name = normalise_name(data["name"], "name", 60)
        if name != group.name:
            _check_group_name_free(name)
        group.name = name
    if "description" in data:
        group.description = _description(data["description"])
    db.session.flush()
    audit.record("update", "channel_data_group", group.name, before, audit.snapshot(group))
    return group


def delete_group(group: ChannelDataGroup) -> None:
    """Delete a group that no store or channel database uses any more."""
    databases = db.session.scalar(
        sa.select(sa.func.count()).where(ChannelDatabase.channel_data_group_id == group.id)
    )
    stores = db.session.scalar(
        sa.select(sa.func.count()).where(Store.channel_data_group_id == group.id)
    )
    if databases or stores:
        raise Conflict(
            f"Channel data group '{group.name}' still has {databases} channel database(s) and "
            f"is the group of {stores} store(s); move them to another group first."
        )
    audit.record("delete", "channel_data_group", group.name, before=audit.snapshot(group))
    db.session.delete(group)
    db.session.flush()


def get_database(database_id: int) -> ChannelDatabase:
    """The channel database with this id, or NotFound."""
    database = db.session.get(ChannelDatabase, database_id)
    if database is None:
        raise NotFound(f"Channel database {database_id} does not exist.")
    return database


def databases_query(
    q: str | None = None,
    kind: str | None = None,
    group: str | None = None,
    store_number: str | None = None,
) -> sa.Select:
    """Channel databases by name, filtered by search text, kind, group or store."""
    stmt = sa.select(ChannelDatabase).order_by(ChannelDatabase.name)
    stmt = search(stmt, q, ChannelDatabase.name)
    if kind:
        stmt = stmt.where(ChannelDatabase.kind == kind)
    if group:
        stmt = stmt.join(ChannelDatabase.channel_data_group).where(ChannelDataGroup.name == group)
    if store_number:
        stmt = stmt.join(ChannelDatabase.store).where(Store.store_number == store_number.upper())
    return stmt


def create_store_database(store, group: ChannelDataGroup | None) -> ChannelDatabase:
    """Create the channel database of a new store, named after the store, in its group."""
    _check_database_name_free(store.store_number)
    database = ChannelDatabase(
        name=store.store_number, kind=CHANNEL, store=store, channel_data_group=group, active=True
    )
    db.session.add(database)
    db.session.flush()
    audit.record("create", "channel_database", database.name, after=audit.snapshot(database))
    return database


def activate_offline_database(register) -> ChannelDatabase:
    """Create (or reuse) the register's offline database and make it active in a group."""
    activate_offline_databases([register])
    return register.offline_database


def activate_offline_databases(registers: list) -> None:
    """Create (or reuse) each register's offline database and make it active in a group.

    One rule for one register or 40,000: the new databases are inserted in one statement (with
    their audit entries), the kept ones reactivated together.
    """
    new = [register for register in registers if register.offline_database is None]
    _check_database_names_free([register.register_number for register in new])
    for start in range(0, len(new), NAME_CHUNK):
        _create_offline_databases(new[start : start + NAME_CHUNK])
    fresh = set(new)
    changes = []
    for register in registers:
        if register in fresh:
            continue
        database = register.offline_database
        before = audit.snapshot(database)
        database.active = True
        if database.channel_data_group_id is None:
            database.channel_data_group = register.store.channel_data_group
        changes.append((database, before))
    db.session.flush()
    audit.record_many(
        "activate",
        "channel_database",
        [(database.name, before, audit.snapshot(database)) for database, before in changes],
    )


def _create_offline_databases(registers: list) -> None:
    """Insert the registers' offline databases by one INSERT ... SELECT, and audit each one.

    The database copies what it needs from the register and its store itself, so a chunk of
    registers costs one statement whatever its size.
    """
    now = utcnow()
    table = ChannelDatabase.__table__
    columns = ("name", "kind", "store_id", "register_id", "channel_data_group_id", "active")
    source = (
        sa.select(
            Register.register_number,
            sa.literal(OFFLINE),
            Register.store_id,
            Register.id,
            Store.channel_data_group_id,
            sa.true(),
            sa.literal(now, UTCDateTime()),
            sa.literal(now, UTCDateTime()),
        )
        .join(Store, Store.id == Register.store_id)
        .where(among(Register.id, [register.id for register in registers]))
    )
    inserted = db.session.connection().execute(
        sa.insert(table)
        .from_select([*columns, "created_at", "updated_at"], source)
        .returning(table.c.id, *(table.c[name] for name in columns))
    )
    created = []
    for row in inserted.mappings():
        after = {**row, "activated_at": None, "created_at": now.isoformat()}
        created.append((row["name"], None, after))
    for register in registers:
        # The relationship was loaded as None; the statement bypassed the session.
        db.session.expire(register, ["offline_database"])
    audit.record_many("create", "channel_database", created)


def deactivate_offline_database(register) -> None:
    """Deactivate the register's offline database, keeping it and its history."""
    deactivate_offline_databases([register])


def deactivate_offline_databases(registers: list) -> None:
    """Deactivate the registers' offline databases, keeping them and their history."""
    databases = [
        register.offline_database
        for register in registers
        if register.offline_database is not None and register.offline_database.active
    ]
    befores = [audit.snapshot(database) for database in databases]
    for database in databases:
        database.active = False
    db.session.flush()
    audit.record_many(
        "deactivate",
        "channel_database",
        [
            (database.name, before, audit.snapshot(database))
            for database, before in zip(databases, befores, strict=True)
        ],
    )


def update_database(database: ChannelDatabase, data: dict) -> ChannelDatabase:
    """Move a channel database to another group (or none)."""
    before = audit.snapshot(database)
    if "channel_data_group" in data:
        database.channel_data_group = resolve_group(data["channel_data_group"])
    unknown = set(data) - {"channel_data_group"}
    if unknown:
        fields = {key: "Set by the store or register, not here." for key in sorted(unknown)}
        raise ValidationFailed("Only the channel data group of a database can be changed.", fields)
    db.session.flush()
    audit.record("update", "channel_database", database.name, before, audit.snapshot(database))
    return database


def _description(value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > DESCRIPTION_MAX:
        raise ValidationFailed(
            "The description is too long.",
            {"description": f"At most {DESCRIPTION_MAX} characters."},
        )
    return text


def _check_group_name_free(name: str) -> None:
    if db.session.scalar(sa.select(ChannelDataGroup.id).filter_by(name=name)) is not None:
        raise Conflict(
            f"A channel data group named '{name}' already exists.", {"name": "Already taken."}
        )


def _check_database_name_free(name: str) -> None:
    _check_database_names_free([name])


def taken_database_names(names: list[str]) -> set[str]:
    """Which of these names channel databases already have, a few hundred per query."""
    taken: set[str] = set()
    for start in range(0, len(names), NAME_CHUNK):
        part = names[start : start + NAME_CHUNK]
        taken.update(
            db.session.scalars(
                sa.select(ChannelDatabase.name).where(ChannelDatabase.name.in_(part))
            )
        )
    return taken


def _check_database_names_free(names: list[str]) -> None:
    if taken := taken_database_names(names):
        name = min(taken)
        raise Conflict(
            f"A channel database named '{name}' already exists; store and register numbers "
            "must not clash."
        )
