"""Channel data groups and the channel databases that receive distributions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped, UTCDateTime
from portal.extensions import db

if TYPE_CHECKING:
    from portal.registers.models import Register
    from portal.stores.models import Store

CHANNEL = "channel"
OFFLINE = "offline"
DATABASE_KINDS = (CHANNEL, OFFLINE)


class ChannelDataGroup(Timestamped, db.Model):
    """A set of channel databases that receive the same distributions."""

    __tablename__ = "channel_data_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    description: Mapped[str] = mapped_column(sa.String(255), default="")

    databases: Mapped[list[ChannelDatabase]] = relationship(
        back_populates="channel_data_group", order_by="ChannelDatabase.name"
    )


class ChannelDatabase(Timestamped, db.Model):
    """One physical database that receives data: a store's channel or a register's offline one."""

    __tablename__ = "channel_database"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN ('{CHANNEL}', '{OFFLINE}')", name="kind"),
        sa.CheckConstraint(
            f"(kind = '{OFFLINE}') = (register_id IS NOT NULL)", name="offline_has_register"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("store.id"), index=True)
    register_id: Mapped[int | None] = mapped_column(sa.ForeignKey("register.id"), unique=True)
    channel_data_group_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("channel_data_group.id"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    # Set when a device first activates; offline databases receive nothing before that.
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store: Mapped[Store] = relationship(foreign_keys=[store_id])
    register: Mapped[Register | None] = relationship(back_populates="offline_database")
    channel_data_group: Mapped[ChannelDataGroup | None] = relationship(back_populates="databases")
