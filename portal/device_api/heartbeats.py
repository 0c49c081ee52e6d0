"""Heartbeats: what a device says about itself, kept as its latest state and as a history."""

from datetime import UTC, datetime

import sqlalchemy as sa

from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api.models import ONLINE, DeviceStatus, Heartbeat
from portal.distribution.models import DownloadSession
from portal.setup.models import ChannelDatabase
from portal.transactions import bulk


def record_heartbeat(database: ChannelDatabase, report: dict) -> datetime:
    """Keep a heartbeat in the history and as the database's latest device status; its time.

    Two statements, whatever came before: heartbeats are most of what a chain's devices send.
    """
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
    received_at = utcnow()
    db.session.execute(
        sa.insert(Heartbeat.__table__).values(
            channel_database_id=database.id, received_at=received_at, **values
        )
    )
    # One upsert: two first heartbeats at once both land, the later one's values kept.
    latest = {**values, "reported_at": received_at}
    db.session.execute(
        bulk.insert(DeviceStatus.__table__)
        .values(channel_database_id=database.id, **latest)
        .on_conflict_do_update(index_elements=["channel_database_id"], set_=latest)
    )
    return received_at


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


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
