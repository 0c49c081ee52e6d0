"""Devices in known states for the fleet tests: offline databases, heartbeats, pending packages."""

from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api.models import DeviceStatus
from portal.distribution import runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionSchedule, DownloadSession
from portal.setup.models import ChannelDatabase
from tests.factories import RegisterFactory


def offline_database(
    store: str | None = None, activated_at: datetime | None = None, **register
) -> ChannelDatabase:
    """A register's active offline database, activated at `activated_at` (None: never)."""
    extra = {"store": store} if store else {}
    database = RegisterFactory(support_offline=True, activated=False, **extra, **register)
    database = database.offline_database
    database.activated_at = activated_at
    db.session.commit()
    return database


def heartbeat(database: ChannelDatabase, at: datetime, mode: str = "online", **values) -> None:
    """Make `at` the moment of the device's latest report."""
    db.session.merge(
        DeviceStatus(channel_database_id=database.id, reported_at=at, mode=mode, **values)
    )
    db.session.commit()


def pending(
    database: ChannelDatabase, at: datetime, status: str = "available", job: str = "1080"
) -> DownloadSession:
    """A download session of the database requested at `at`, in `status`."""
    session = DownloadSession(
        run=runs.request_run(_schedule()),
        channel_database=database,
        job_number=job,
        kind="incremental",
        status=status,
        requested_at=at,
        updated_at=at + timedelta(minutes=1),
    )
    db.session.add(session)
    db.session.commit()
    return session


def _schedule() -> DistributionSchedule:
    schedule = db.session.scalar(sa.select(DistributionSchedule).filter_by(code="FLEET"))
    if schedule is None:
        distribution.ensure_standard_jobs()
        schedule = distribution.create_schedule({"code": "FLEET", "jobs": ["1080", "1040"]})
    return schedule


def minutes_ago(minutes: float) -> datetime:
    """The real present minus some minutes, for pages that classify at the present."""
    return utcnow() - timedelta(minutes=minutes)
