"""Registers chosen by filter: the register list's filters and a bulk change's selection."""

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.core.search import search
from portal.setup.models import ChannelDatabase, ChannelDataGroup, OfflineProfile, Register, Store

FILTERS = (
    "store",
    "channel_data_group",
    "offline_profile",
    "support_offline",
    "activated",
    "active",
    "q",
)


def filtered_registers(filters: dict) -> sa.Select:
    """Registers by number matching every filter given (None or "" filters nothing).

    `store` is a store number; `channel_data_group` the store's group name; `offline_profile`
    the name of the profile in effect (the register's own, else its store's); `activated` whether
    the offline database's device has activated; `q` a search of the register number.
    """
    stmt = sa.select(Register).order_by(Register.register_number)
    stmt = search(stmt, filters.get("q"), Register.register_number)
    store = (filters.get("store") or "").strip().upper()
    group = filters.get("channel_data_group") or ""
    if store or group:
        stmt = stmt.join(Register.store)
    if store:
        stmt = stmt.where(Store.store_number == store)
    if group:
        group_id = sa.select(ChannelDataGroup.id).where(ChannelDataGroup.name == group)
        stmt = stmt.where(Store.channel_data_group_id == group_id.scalar_subquery())
    if profile := filters.get("offline_profile"):
        profile_id = (
            sa.select(OfflineProfile.id).where(OfflineProfile.name == profile).scalar_subquery()
        )
        # Its own alias: the store the `store` or group filter joins would correlate away.
        own_store = aliased(Store)
        store_default = sa.select(own_store.offline_profile_id).where(
            own_store.id == Register.store_id
        )
        stmt = stmt.where(
            sa.or_(
                Register.offline_profile_id == profile_id,
                sa.and_(
                    Register.offline_profile_id.is_(None),
                    store_default.scalar_subquery() == profile_id,
                ),
            )
        )
    for name in ("support_offline", "active"):
        if (wanted := filters.get(name)) is not None:
            stmt = stmt.where(getattr(Register, name).is_(bool(wanted)))
    if (activated := filters.get("activated")) is not None:
        has_device = (
            sa.select(ChannelDatabase.id)
            .where(ChannelDatabase.register_id == Register.id)
            .where(ChannelDatabase.activated_at.is_not(None))
            .exists()
        )
        stmt = stmt.where(has_device if activated else ~has_device)
    return stmt
