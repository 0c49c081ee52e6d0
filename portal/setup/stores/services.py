"""Rules for stores: creation with their channel database, edits and deletion."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.search import search
from portal.core.sql import update_ids
from portal.core.validation import (
    FieldErrors,
    check_time_zone,
    normalise_currency,
    normalise_name,
    normalise_number,
)
from portal.masterdata.dependents import setup_in_use
from portal.masterdata.references import STORE_REFERENCES, check_codes, unknown
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDataGroup, OfflineProfile, Store
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.signals import store_deleting

STORE_NUMBER_MAX = 20
# Settings held as the id of another row.
_COLUMNS = {"channel_data_group": "channel_data_group_id", "offline_profile": "offline_profile_id"}
EDITABLE = (
    "name",
    "currency",
    "tax_group",
    "time_zone",
    "price_group",
    "assortment",
    "channel_data_group",
    "offline_profile",
)


def get_store(store_number: str) -> Store:
    """The store with this number, or NotFound."""
    store = db.session.scalar(sa.select(Store).filter_by(store_number=store_number.upper()))
    if store is None:
        raise NotFound(f"Store '{store_number}' does not exist.")
    return store


def resolve_store(store_number: str | None, field: str = "store") -> Store:
    """Turn a store number given as input into the store, or a field error."""
    number = (store_number or "").strip().upper()
    store = db.session.scalar(sa.select(Store).filter_by(store_number=number)) if number else None
    if store is None:
        if not number:
            raise ValidationFailed("A store is required.", {field: "Required."})
        message = unknown("store", "stores", number)
        raise ValidationFailed(f"Store '{number}' does not exist.", {field: message})
    return store


def stores_query(q: str | None = None) -> sa.Select:
    """Stores by number, optionally matching a search on number or name."""
    stmt = sa.select(Store).order_by(Store.store_number)
    stmt = search(stmt, q, Store.store_number, Store.name)
    return stmt


def create_store(data: dict) -> Store:
    """Create a store and its channel database in the chosen channel data group."""
    number = normalise_number(data.get("store_number"), "store_number", STORE_NUMBER_MAX)
    if db.session.scalar(sa.select(Store.id).filter_by(store_number=number)) is not None:
        raise Conflict(f"Store '{number}' already exists.", {"store_number": "Already taken."})
    store = Store(store_number=number)
    _apply(store, {key: data.get(key) for key in EDITABLE})
    db.session.add(store)
    db.session.flush()
    channels.create_store_database(store, store.channel_data_group)
    audit.record("create", "store", store.store_number, after=audit.snapshot(store))
    return store


def update_store(store: Store, data: dict) -> Store:
    """Change a store's settings; moving it to another group moves its channel database too."""
    if "store_number" in data and (data["store_number"] or "").upper() != store.store_number:
        raise ValidationFailed(
            "A store number cannot be changed once the store exists.",
            {"store_number": "Cannot be changed."},
        )
    settings = checked_settings({key: data[key] for key in EDITABLE if key in data})
    db.session.flush()
    update_stores([store.id], settings)
    return store


def update_stores(ids: list[int], settings: dict) -> None:
    """Give stores the settings `checked_settings` returned; the one rule of a store change.

    An audit entry for each store that changed; the channel databases of those that move to
    another group move with them. Stores are read and written a statement at a time, so one
    store and a chain of them take the same path.
    """
    values = {column_of(name): column_value(value) for name, value in settings.items()}
    befores = update_ids(Store.__table__, ids, values, Store.store_number, Store.id)
    olds = {store_id: dict(zip(values, old, strict=True)) for _, store_id, *old in befores}
    if "channel_data_group_id" in values:
        group_id = values["channel_data_group_id"]
        moved = [i for i, old in olds.items() if old["channel_data_group_id"] != group_id]
        channels.move_store_databases(moved, group_id)
    audit.record_many(
        "update", "store", [(number, olds[store_id], values) for number, store_id, *_ in befores]
    )
    wanted = set(ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Store) and obj.id in wanted:
            db.session.expire(obj)


def checked_settings(data: dict) -> dict:
    """Settings as a store would hold them (groups and profiles resolved), or every field error.

    What `update_store` would refuse, found once for a change many stores will receive.
    """
    probe = Store(store_number="")
    _apply(probe, data)
    return {name: getattr(probe, name) for name in data}


def delete_store(store: Store) -> None:
    """Delete a store without registers that no master data names, and its channel database."""
    if store.registers:
        raise Conflict(
            f"Store '{store.store_number}' still has {len(store.registers)} register(s); "
            "delete or move them first."
        )
    if reason := setup_in_use("store", store.store_number):
        raise Conflict(f"Store '{store.store_number}' is not deleted. {reason}")
    database = store.channel_database
    # What is kept elsewhere of the store (the distribution history) may refuse the deletion.
    store_deleting.send(store=store, database=database)
    if database is not None:
        audit.record("delete", "channel_database", database.name, before=audit.snapshot(database))
        db.session.delete(database)
    audit.record("delete", "store", store.store_number, before=audit.snapshot(store))
    db.session.delete(store)
    db.session.flush()


def _apply(store: Store, values: dict) -> None:
    errors = FieldErrors()
    if "name" in values:
        with errors.check():
            store.name = normalise_name(values["name"], "name", 100)
    if "currency" in values:
        with errors.check():
            store.currency = normalise_currency(values["currency"])
    if "tax_group" in values:
        with errors.check():
            store.tax_group = normalise_name(values["tax_group"], "tax_group", 30)
    if "time_zone" in values:
        with errors.check():
            store.time_zone = check_time_zone(values["time_zone"])
    for hook in ("price_group", "assortment"):
        if hook in values:
            setattr(store, hook, (values[hook] or "").strip()[:30] or None)
    if "channel_data_group" in values:
        with errors.check():
            store.channel_data_group = channels.resolve_group(values["channel_data_group"])
    if "offline_profile" in values:
        with errors.check():
            store.offline_profile = offline_profiles.resolve_profile(values["offline_profile"])
    with errors.check():
        # A value already refused for its form is not looked up as well.
        named = [key for key in STORE_REFERENCES if key in values and key not in errors.fields]
        _check_master_data(store, named)
    errors.raise_if_any()


def _check_master_data(store: Store, fields: list[str]) -> None:
    """Refuse a currency, tax group, price group or assortment that names no live row."""
    named = {field: getattr(store, field) for field in fields}
    if problems := check_codes(named, STORE_REFERENCES):
        missing = ", ".join(f"'{value}'" for field, value in named.items() if field in problems)
        raise ValidationFailed(
            f"The store names master data that does not exist: {missing}.", problems
        )


def column_of(setting: str) -> str:
    """The store's column holding a setting: groups and profiles are held by id."""
    return _COLUMNS.get(setting, setting)


def column_value(value):
    """A checked setting as its column holds it: a group or profile by its id."""
    return value.id if isinstance(value, ChannelDataGroup | OfflineProfile) else value
