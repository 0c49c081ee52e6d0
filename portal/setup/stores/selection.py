"""Stores chosen by filter: the store list's filters and a bulk change's selection."""

import sqlalchemy as sa

from portal.core.search import search
from portal.setup.models import ChannelDataGroup, OfflineProfile, Store

FILTERS = ("channel_data_group", "offline_profile", "q")
# The filter value that picks stores with no channel data group (or no default profile).
NONE = "-"


def filtered_stores(filters: dict) -> sa.Select:
    """Stores by number matching every filter given; `-` as a group or profile means none."""
    stmt = sa.select(Store).order_by(Store.store_number)
    stmt = search(stmt, filters.get("q"), Store.store_number, Store.name)
    for name, column, model in (
        ("channel_data_group", Store.channel_data_group_id, ChannelDataGroup),
        ("offline_profile", Store.offline_profile_id, OfflineProfile),
    ):
        value = filters.get(name) or ""
        if value == NONE:
            stmt = stmt.where(column.is_(None))
        elif value:
            wanted = sa.select(model.id).where(model.name == value).scalar_subquery()
            stmt = stmt.where(column == wanted)
    return stmt
