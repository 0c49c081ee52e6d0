"""Rules for channel data groups and channel databases."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow
from portal.core.search import search
from portal.core.sql import among, batches
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


def sync_offline_databases(register_ids: list[int]) -> None:
    """Give each of these registers the offline database its flags ask for; the one rule.

    A register with Support offline that is active gets its offline database created, or its
    kept one reactivated (in its store's group if it has none); any other register's is
    deactivated and kept with its history. One register or 40,000 take the same statements: the
    registers are read in one query, and the databases created, reactivated and deactivated a
    statement each, with their audit entries.
    """
    new, reactivated, deactivated = [], [], []
    for part in batches(register_ids):
        rows = db.session.execute(
            sa.select(
                Register.id,
                Register.register_number,
                Register.support_offline & Register.active,
                ChannelDatabase.id,
                ChannelDatabase.active,
                ChannelDatabase.channel_data_group_id,
                ChannelDatabase.name,
                Store.channel_data_group_id,
            )
            .join(Store, Store.id == Register.store_id)
            .outerjoin(ChannelDatabase, ChannelDatabase.register_id == Register.id)
            .where(among(Register.id, part))
            .order_by(Register.register_number)
        )
        for register_id, number, wanted, database_id, active, group_id, name, store_group in rows:
            if wanted and database_id is None:
                new.append((register_id, number))
            elif wanted and (not active or group_id is None):
                reactivated.append((database_id, name, active, group_id, store_group))
            elif not wanted and active:
                deactivated.append((database_id, name))
    _check_database_names_free([number for _, number in new])
    for part in batches([register_id for register_id, _ in new]):
        _create_offline_databases(part)
    _reactivate(reactivated)
    _deactivate(deactivated)


def _create_offline_databases(register_ids: list[int]) -> None:
    """Insert the registers' offline databases by one INSERT ... SELECT, and audit each one.

    The database copies what it needs from the register and its store itself, so any number of
    registers costs one statement.
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
        .where(among(Register.id, register_ids))
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
    audit.record_many("create", "channel_database", created)
    _expire_registers(register_ids)


def _reactivate(databases: list[tuple]) -> None:
    """Reactivate kept offline databases; one without a group takes its store's."""
    if not databases:
        return
    ids = [database_id for database_id, *_ in databases]
    store_group = (
        sa.select(Store.channel_data_group_id)
        .where(Store.id == ChannelDatabase.store_id)
        .scalar_subquery()
    )
    for part in batches(ids):
        db.session.execute(
            sa.update(ChannelDatabase.__table__)
            .where(among(ChannelDatabase.id, part))
            .values(
                active=True,
                channel_data_group_id=sa.func.coalesce(
                    ChannelDatabase.channel_data_group_id, store_group
                ),
                updated_at=utcnow(),
            )
        )
    changes = []
    for _, name, active, group_id, store_group_id in databases:
        before = {"active": active, "channel_data_group_id": group_id}
        after = {"active": True, "channel_data_group_id": group_id or store_group_id}
        changes.append((name, before, after))
    audit.record_many("activate", "channel_database", changes)
    _expire_databases(ids)


def _deactivate(databases: list[tuple]) -> None:
    """Deactivate offline databases, keeping them and their history."""
    if not databases:
        return
    ids = [database_id for database_id, _ in databases]
    for part in batches(ids):
        db.session.execute(
            sa.update(ChannelDatabase.__table__)
            .where(among(ChannelDatabase.id, part))
            .values(active=False, updated_at=utcnow())
        )
    audit.record_many(
        "deactivate",
        "channel_database",
        [(name, {"active": True}, {"active": False}) for _, name in databases],
    )
    _expire_databases(ids)


def _expire_registers(register_ids: list[int]) -> None:
    """Registers held by the session read their offline database again: statements bypassed it."""
    wanted = set(register_ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Register) and obj.id in wanted:
            db.session.expire(obj, ["offline_database"])


def _expire_databases(database_ids: list[int]) -> None:
    """Databases held by the session read their row again: statements bypassed it."""
    wanted = set(database_ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, ChannelDatabase) and obj.id in wanted:
            db.session.expire(obj)


def move_store_databases(store_ids: list[int], group_id: int | None) -> None:
    """Move the stores' channel databases to a group (or none), as their stores moved."""
    moved = []
    for part in batches(store_ids):
        found = sa.and_(ChannelDatabase.kind == CHANNEL, among(ChannelDatabase.store_id, part))
        moved += db.session.execute(
            sa.select(
                ChannelDatabase.id, ChannelDatabase.name, ChannelDatabase.channel_data_group_id
            )
            .where(found)
            .order_by(ChannelDatabase.name)
        ).all()
        db.session.execute(
            sa.update(ChannelDatabase.__table__)
            .where(found)
            .values(channel_data_group_id=group_id, updated_at=utcnow())
        )
    audit.record_many(
        "update",
        "channel_database",
        [
            (name, {"channel_data_group_id": old}, {"channel_data_group_id": group_id})
            for _, name, old in moved
        ],
    )
    _expire_databases([database_id for database_id, *_ in moved])


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
    """Which of these names channel databases already have."""
    return {
        name
        for part in batches(names)
        for name in db.session.scalars(
            sa.select(ChannelDatabase.name).where(among(ChannelDatabase.name, part))
        )
    }


def _check_database_names_free(names: list[str]) -> None:
    if taken := taken_database_names(names):
        name = min(taken)
        raise Conflict(
            f"A channel database named '{name}' already exists; store and register numbers "
            "must not clash."
        )
