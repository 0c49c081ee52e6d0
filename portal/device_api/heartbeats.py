"""Heartbeats: what a device says about itself, kept as its latest state and as a history."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api.models import ONLINE, DeviceStatus, Heartbeat
from portal.distribution.models import DownloadSession
from portal.setup.models import ChannelDatabase


def record_heartbeat(database: ChannelDatabase, report: dict) -> Heartbeat:
    """Keep a heartbeat in the history and as the database's latest device status."""
    last_applied = report.get("last_applied_package")
    if last_applied is not None and not _is_session_of(database, last_applied):
        raise ValidationFailed(
            f"Package {last_applied} is not a package of '{database.name}'.",
            {"last_applied_package": "Not one of this database's packages."},
        )
    values = {
        "mode": report["mode"],
        **_mode_times(report),
        "pending_uploads": report["pending_uploads"],
        "last_applied_session_id": last_applied,
        "app_version": report.get("app_version") or "",
        "database_bytes": report.get("database_bytes"),
        "free_disk_bytes": report.get("free_disk_bytes"),
        "last_error": report.get("last_error") or "",
        "sync_paused": bool(report.get("sync_paused")),
    }
    heartbeat = Heartbeat(channel_database_id=database.id, received_at=utcnow(), **values)
    db.session.add(heartbeat)
    status = _status_row(database)
    for name, value in values.items():
        setattr(status, name, value)
    status.reported_at = heartbeat.received_at
    db.session.flush()
    return heartbeat


def _mode_times(report: dict) -> dict:
    """Since when the device is in its mode; an offline one's `offline_since` is the same moment.

    A device back online may still send when it went offline; that is over now. Devices that
    send only `offline_since` (older agents) have it taken as their offline mode's start.
    """
    mode_since = _utc(report.get("mode_since"))
    if report["mode"] == ONLINE:
        return {"offline_since": None, "mode_since": mode_since}
    offline_since = _utc(report.get("offline_since")) or mode_since
    return {"offline_since": offline_since, "mode_since": mode_since or offline_since}


def _is_session_of(database: ChannelDatabase, session_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                DownloadSession.id == session_id,
                DownloadSession.channel_database_id == database.id,
            )
        )
    )


def _status_row(database: ChannelDatabase) -> DeviceStatus:
    """The database's one status row, locked; created on its first heartbeat."""
    status = db.session.get(DeviceStatus, database.id, with_for_update=True)
    if status is not None:
        return status
    try:
        # Two first heartbeats at once: the loser's insert fails, and it updates the winner's row.
        with db.session.begin_nested():
            status = DeviceStatus(channel_database_id=database.id)
            db.session.add(status)
    except IntegrityError:
        status = db.session.get(
            DeviceStatus, database.id, with_for_update=True, populate_existing=True
        )
    return status


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
