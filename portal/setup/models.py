"""The setup's models: channel data groups and databases, stores, registers, offline profiles."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.extensions import db
from portal.core.models import Timestamped, UTCDateTime, trigram_index

CHANNEL = "channel"
OFFLINE = "offline"
DATABASE_KINDS = (CHANNEL, OFFLINE)
# Minutes between a device's heartbeats where no offline profile says otherwise.
HEALTH_CHECK_INTERVAL_MIN = 5


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


class Store(Timestamped, db.Model):
    """A retail channel identified by its store number, with one channel database."""

    __tablename__ = "store"
    # The store list and a bulk change's selection search both anywhere (ILIKE '%text%').
    __table_args__ = (trigram_index("store", "store_number"), trigram_index("store", "name"))

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


class Register(Timestamped, db.Model):
    """A POS terminal of one store; with Support offline it keeps an offline database."""

    __tablename__ = "register"
    # The register list searches the number anywhere; 50,000 registers are too many to scan.
    __table_args__ = (trigram_index("register", "register_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    register_number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("store.id"), index=True)
    support_offline: Mapped[bool] = mapped_column(default=False)
    offline_profile_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("offline_profile.id"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)

    store: Mapped[Store] = relationship(back_populates="registers")
    offline_profile: Mapped[OfflineProfile | None] = relationship()
    offline_database: Mapped[ChannelDatabase | None] = relationship(back_populates="register")

    @property
    def effective_offline_profile(self) -> OfflineProfile | None:
        """The register's own offline profile, else its store's default."""
        return self.offline_profile or self.store.offline_profile


class OfflineProfile(Timestamped, db.Model):
    """How registers behave offline and which data their offline databases receive."""

    __tablename__ = "offline_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    offline_timeout_s: Mapped[int] = mapped_column(default=30)
    reconnect_interval_min: Mapped[int] = mapped_column(default=5)
    pause_sync: Mapped[bool] = mapped_column(default=False)
    allow_manual_switch_before_sign_in: Mapped[bool] = mapped_column(default=False)
    advanced_offline_switching: Mapped[bool] = mapped_column(default=False)
    health_check_interval_min: Mapped[int] = mapped_column(default=HEALTH_CHECK_INTERVAL_MIN)
    # Auditors' thresholds: sales made after this long offline, or offline sales above this
    # total, are anomalies. None: no threshold.
    max_offline_minutes: Mapped[int | None] = mapped_column()
    max_offline_total: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 4))

    scopes: Mapped[list[OfflineScope]] = relationship(
        back_populates="profile",
        order_by="OfflineScope.position",
        cascade="all, delete-orphan",
    )


class OfflineScope(db.Model):
    """Which tables an offline database receives, in which direction and order."""

    __tablename__ = "offline_scope"
    __table_args__ = (sa.UniqueConstraint("profile_id", "name", name="uq_offline_scope_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(sa.ForeignKey("offline_profile.id"), index=True)
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(60))
    direction: Mapped[str] = mapped_column(sa.String(15))
    tables: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    profile: Mapped[OfflineProfile] = relationship(back_populates="scopes")
