"""A bulk change of stores: moving them to a channel data group, a default offline profile, ...

Every change goes through `update_stores`, the rule `update_store` applies to one store, so a
store's channel database moves with it exactly as when one store is edited. The selection is
read in one query and written a statement at a time.
"""

import sqlalchemy as sa

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


def plan(ids: list[int], change: dict) -> tuple[list[int], int, list[tuple[str, str]]]:
    """(ids that would change, how many would stay as they are, refused: none) for the checked
    change; stores deleted meanwhile are in neither."""
    values = {services.column_of(name): services.column_value(v) for name, v in change.items()}
    columns = [Store.__table__.c[name] for name in values]
    changed, unchanged = [], 0
    for part in sql.batches(ids):
        rows = db.session.execute(sa.select(Store.id, *columns).where(sql.among(Store.id, part)))
        for store_id, *old in rows:
            if old == list(values.values()):
                unchanged += 1
            else:
                changed.append(store_id)
    return changed, unchanged, []


def apply(ids: list[int], change: dict) -> None:
    """Make the change on the stores through the one store rule."""
    services.update_stores(ids, change)


def activated_among(ids: list[int], change: dict) -> int:
    """Stores have no device a bulk change could cut off."""
    return 0
