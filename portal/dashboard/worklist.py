"""The scheduler's worklist: what failed or is stuck, worst first, each with its action.

It sits at the top layer because it reads both the distribution (runs, sessions) and what
devices report (heartbeats). Every figure is one grouped or counted query on indexed columns,
and every list is one page, so 50,000 databases cost the same few queries as 50.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api.models import DeviceStatus
from portal.distribution.lifecycle import FAILED
from portal.distribution.models import (
    RUN_FAILED,
    RUN_WAITING,
    SESSION_AVAILABLE,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOADED,
    DistributionRun,
    DownloadSession,
)
from portal.setup.models import ChannelDatabase

SESSIONS = "sessions"
BEHIND = "behind"
SILENT = "silent"
RUNS = "runs"
SECTIONS = (SESSIONS, RUNS, BEHIND, SILENT)
# Offered to the device and waiting for it: what "behind" counts.
WAITING = (SESSION_AVAILABLE, SESSION_DOWNLOADED)


@dataclass(frozen=True)
class Thresholds:
    """When a database counts as behind, and a device as silent."""

    behind_packages: int
    behind_minutes: int
    silent_minutes: int

    @classmethod
    def from_settings(cls) -> "Thresholds":
        """The thresholds of the app's settings."""
        config = current_app.config
        return cls(
            behind_packages=config["WORKLIST_BEHIND_PACKAGES"],
            behind_minutes=config["DEVICE_BEHIND_MINUTES"],
            silent_minutes=config["DEVICE_SILENT_MINUTES"],
        )


@dataclass(frozen=True)
class Cause:
    """One cause of failed sessions: how many sessions, on how many databases."""

    status: str
    sessions: int
    databases: int


def failed_causes() -> list[Cause]:
    """Failed sessions per cause (create, download, apply failed), in one grouped query."""
    rows = db.session.execute(
        sa.select(
            DownloadSession.status,
            sa.func.count(),
            sa.func.count(sa.distinct(DownloadSession.channel_database_id)),
        )
        .where(DownloadSession.status.in_(FAILED))
        .group_by(DownloadSession.status)
    ).all()
    found = {status: Cause(status, sessions, databases) for status, sessions, databases in rows}
    return [found[status] for status in FAILED if status in found]


def failed_sessions(cause: str | None = None) -> sa.Select:
    """Failed sessions grouped by cause and database, the newest first within a database."""
    statuses = (cause,) if cause in FAILED else FAILED
    return (
        sa.select(DownloadSession)
        .where(DownloadSession.status.in_(statuses))
        .order_by(
            DownloadSession.status,
            DownloadSession.channel_database_id,
            DownloadSession.id.desc(),
        )
        .options(selectinload(DownloadSession.channel_database))
    )


def runs_needing_attention() -> sa.Select:
    """Runs waiting for a worker, and failed runs that still have a failed build, newest first."""
    still_failed = (
        sa.select(DownloadSession.id)
        .where(
            DownloadSession.run_id == DistributionRun.id,
            DownloadSession.status == SESSION_CREATE_FAILED,
        )
        .exists()
    )
    return (
        sa.select(DistributionRun)
        .where(
            sa.or_(
                DistributionRun.status == RUN_WAITING,
                sa.and_(DistributionRun.status == RUN_FAILED, still_failed),
            )
        )
        .order_by(DistributionRun.id.desc())
        .options(
            selectinload(DistributionRun.schedule), selectinload(DistributionRun.channel_database)
        )
    )


def behind_databases(limits: Thresholds, now: datetime | None = None) -> sa.Select:
    """Databases with more packages waiting than allowed, or one waiting too long; oldest first."""
    now = now or utcnow()
    waiting = (
        sa.select(
            DownloadSession.channel_database_id.label("database_id"),
            sa.func.count().label("waiting"),
            sa.func.min(DownloadSession.requested_at).label("oldest"),
        )
        .where(DownloadSession.status.in_(WAITING))
        .group_by(DownloadSession.channel_database_id)
        .having(
            sa.or_(
                sa.func.count() > limits.behind_packages,
                sa.func.min(DownloadSession.requested_at)
                < now - timedelta(minutes=limits.behind_minutes),
            )
        )
        .subquery("waiting")
    )
    return (
        sa.select(ChannelDatabase)
        .join(waiting, waiting.c.database_id == ChannelDatabase.id)
        .where(ChannelDatabase.active)
        .order_by(waiting.c.oldest, ChannelDatabase.id)
    )


def silent_devices(limits: Thresholds, now: datetime | None = None) -> sa.Select:
    """Activated databases whose device has sent nothing for too long; the longest silent first."""
    now = now or utcnow()
    last_contact = sa.func.coalesce(DeviceStatus.reported_at, ChannelDatabase.activated_at)
    return (
        sa.select(ChannelDatabase)
        .outerjoin(DeviceStatus, DeviceStatus.channel_database_id == ChannelDatabase.id)
        .where(
            ChannelDatabase.active,
            ChannelDatabase.activated_at.is_not(None),
            last_contact < now - timedelta(minutes=limits.silent_minutes),
        )
        .order_by(last_contact, ChannelDatabase.id)
    )


def waiting_of(database_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """For a page of databases: how many packages wait for each, and since when."""
    rows = db.session.execute(
        sa.select(
            DownloadSession.channel_database_id,
            sa.func.count(),
            sa.func.min(DownloadSession.requested_at),
        )
        .where(
            DownloadSession.channel_database_id.in_(database_ids),
            DownloadSession.status.in_(WAITING),
        )
        .group_by(DownloadSession.channel_database_id)
    ).all()
    return {database_id: (waiting, oldest) for database_id, waiting, oldest in rows}


def last_contacts(databases: list[ChannelDatabase]) -> dict[int, datetime | None]:
    """For a page of databases: the device's last heartbeat, else when it was activated."""
    reported = dict(
        db.session.execute(
            sa.select(DeviceStatus.channel_database_id, DeviceStatus.reported_at).where(
                DeviceStatus.channel_database_id.in_([d.id for d in databases])
            )
        ).all()
    )
    return {d.id: reported.get(d.id) or d.activated_at for d in databases}


def count(stmt: sa.Select) -> int:
    """How many rows a query gives."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))


def figures(limits: Thresholds) -> dict[str, int]:
    """How many items each section holds, for the tabs."""
    now = utcnow()
    return {
        SESSIONS: sum(cause.sessions for cause in failed_causes()),
        RUNS: count(runs_needing_attention()),
        BEHIND: count(behind_databases(limits, now)),
        SILENT: count(silent_devices(limits, now)),
    }
