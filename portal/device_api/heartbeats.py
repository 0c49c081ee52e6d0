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
    # A device back online may still send when it went offline; that is over now.
    offline_since = None if report["mode"] == ONLINE else _utc(report.get("offline_since"))
    values = {
        "mode": report["mode"],
        "offline_since": offline_since,
        "pending_uploads": report["pending_uploads"],
        "last_applied_session_id": last_applied,
        "app_version": report.get("app_version") or "",
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
