"""Offline profiles and the offline scopes they are made of."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.models import Timestamped
from portal.extensions import db


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
    health_check_interval_min: Mapped[int] = mapped_column(default=5)
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
