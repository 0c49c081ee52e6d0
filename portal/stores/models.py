"""Stores (retail channels)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.channels.models import CHANNEL
from portal.core.models import Timestamped
from portal.extensions import db

if TYPE_CHECKING:
    from portal.channels.models import ChannelDatabase, ChannelDataGroup
    from portal.offline_profiles.models import OfflineProfile
    from portal.registers.models import Register


class Store(Timestamped, db.Model):
    """A retail channel identified by its store number, with one channel database."""

    __tablename__ = "store"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    currency: Mapped[str] = mapped_column(sa.String(3))
    tax_group: Mapped[str] = mapped_column(sa.String(30))
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    # Hooks for the master data of the distribution engine: names, not yet foreign keys.
    price_group: Mapped[str | None] = mapped_column(sa.String(30))
    assortment: Mapped[str | None] = mapped_column(sa.String(30))
    channel_data_group_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("channel_data_group.id"), index=True
    )
    offline_profile_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("offline_profile.id"), index=True
    )

    channel_data_group: Mapped[ChannelDataGroup | None] = relationship()
    offline_profile: Mapped[OfflineProfile | None] = relationship()
    registers: Mapped[list[Register]] = relationship(
        back_populates="store", order_by="Register.register_number"
    )
    channel_database: Mapped[ChannelDatabase | None] = relationship(
        primaryjoin=(
            f"and_(Store.id == ChannelDatabase.store_id, ChannelDatabase.kind == '{CHANNEL}')"
        ),
        viewonly=True,
        uselist=False,
    )
