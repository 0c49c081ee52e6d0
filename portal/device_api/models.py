"""Device credentials of channel databases and what their devices report about themselves."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow
from portal.setup.models import ChannelDatabase

ONLINE = "online"
OFFLINE_MODE = "offline"
MODES = (ONLINE, OFFLINE_MODE)


class ActivationCode(db.Model):
    """A one-time code HQ hands to the person setting up a device; only its hash is kept."""

    __tablename__ = "activation_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_database_id: Mapped[int] = mapped_column(
        sa.ForeignKey("channel_database.id"), index=True
    )
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    channel_database: Mapped[ChannelDatabase] = relationship()


class DeviceToken(db.Model):
    """The long-lived Bearer token a device got by activating; only its hash is kept."""

    __tablename__ = "device_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_database_id: Mapped[int] = mapped_column(
        sa.ForeignKey("channel_database.id"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(254))

    channel_database: Mapped[ChannelDatabase] = relationship()


class DeviceStatus(db.Model):
    """The latest heartbeat of a channel database's device, one row per database."""

    __tablename__ = "device_status"

    channel_database_id: Mapped[int] = mapped_column(
        sa.ForeignKey("channel_database.id"), primary_key=True
    )
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mode: Mapped[str | None] = mapped_column(sa.String(10))
    offline_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_uploads: Mapped[int] = mapped_column(default=0)
    last_applied_session_id: Mapped[int | None] = mapped_column()
    app_version: Mapped[str] = mapped_column(sa.String(40), default="")
    last_upload_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mode_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    database_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    free_disk_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_error: Mapped[str] = mapped_column(sa.String(1000), default="")
    sync_paused: Mapped[bool] = mapped_column(default=False)

    channel_database: Mapped[ChannelDatabase] = relationship()


class Heartbeat(db.Model):
    """One heartbeat as received, kept as the device's history."""

    __tablename__ = "device_heartbeat"
    __table_args__ = (sa.Index("ix_device_heartbeat_database", "channel_database_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_database_id: Mapped[int] = mapped_column(sa.ForeignKey("channel_database.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    mode: Mapped[str] = mapped_column(sa.String(10))
    offline_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pending_uploads: Mapped[int] = mapped_column(default=0)
    last_applied_session_id: Mapped[int | None] = mapped_column()
    app_version: Mapped[str] = mapped_column(sa.String(40), default="")
    mode_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    database_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    free_disk_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_error: Mapped[str] = mapped_column(sa.String(1000), default="")
    sync_paused: Mapped[bool] = mapped_column(default=False)


class FleetSample(db.Model):
    """How many registers were in each state at one moment: the dashboard's chart over time."""

    __tablename__ = "fleet_sample"

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    online: Mapped[int] = mapped_column(default=0)
    offline: Mapped[int] = mapped_column(default=0)
    behind: Mapped[int] = mapped_column(default=0)
    never_activated: Mapped[int] = mapped_column(default=0)
