"""A bulk change of stores: moving them to a channel data group, a default offline profile, ...

Every change goes through `update_store`, so a store's channel database moves with it exactly
as when one store is edited.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.core import sql
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.setup.models import Store
from portal.setup.stores import services
from portal.setup.stores.selection import filtered_stores

ENTITY = "store"
KEY = "store_numbers"
# Every setting of a store but its name, which is each store's own.
SETTABLE = tuple(name for name in services.EDITABLE if name != "name")


def select_ids(filters: dict) -> list[int]:
    """The ids of the stores matching the filters, by number."""
    return list(db.session.scalars(filtered_stores(filters).with_only_columns(Store.id)))


def ids_by_key(numbers: list[str]) -> dict[str, int]:
    """The ids of the stores with these numbers (as given), by number; unknown ones left out."""
    return sql.ids_by_key(Store.store_number, Store.id, numbers)


def load(ids: list[int]) -> list[Store]:
    """The stores with these ids, with their group, profile and channel database."""
    return list(
        db.session.scalars(
            sa.select(Store)
            .where(Store.id.in_(ids))
            .order_by(Store.store_number)
            .options(
                selectinload(Store.channel_data_group),
                selectinload(Store.offline_profile),
                selectinload(Store.channel_database),
            )
        )
    )


def key_of(store: Store) -> str:
    """How refusals name a store."""
    return store.store_number


def resolve_change(change: dict) -> dict:
    """The change checked once for the whole selection, with the store rules' own messages."""
    unknown = sorted(set(change) - set(SETTABLE))
    if unknown:
        fields = {f"set.{name}": "Not a field a bulk change sets." for name in unknown}
        raise ValidationFailed(f"A bulk change of stores sets only {', '.join(SETTABLE)}.", fields)
    if not change:
        raise ValidationFailed(
            "Name at least one field to set.", {"set": f"One of {', '.join(SETTABLE)}."}
        )
    try:
        return services.checked_settings(change)
    except ValidationFailed as error:
        fields = {f"set.{name}": message for name, message in error.fields.items()}
        raise ValidationFailed(error.message, fields) from None


def plan(stores: list[Store], change: dict) -> tuple[list, list, dict[int, str]]:
    """(would change, would stay as they are, refused: none) for the checked change."""
    changed, unchanged = [], []
    for store in stores:
        differs = any(getattr(store, name) != value for name, value in change.items())
        (changed if differs else unchanged).append(store)
    return changed, unchanged, {}


def apply(stores: list[Store], change: dict) -> None:
    """Make the change on each store through the one store rule."""
    # Groups and profiles go back by name, as the store rule takes them.
    data = {name: getattr(value, "name", value) for name, value in change.items()}
    for store in stores:
        services.update_store(store, data)


def activated_among(ids: list[int], change: dict) -> int:
    """Stores have no device a bulk change could cut off."""
    return 0
