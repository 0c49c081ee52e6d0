"""Scheduler jobs, distribution schedules, their runs, data packages and download sessions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.extensions import db
from portal.core.models import Timestamped, UTCDateTime, utcnow
from portal.setup.models import ChannelDatabase, ChannelDataGroup

RUN_WAITING = "waiting"  # recorded, not yet picked up by a worker (e.g. the broker is down)
RUN_RUNNING = "running"
RUN_DONE = "done"
RUN_FAILED = "failed"
RUN_CANCELED = "canceled"  # canceled as a whole, or every session it kept was canceled
RUN_STATUSES = (RUN_WAITING, RUN_RUNNING, RUN_DONE, RUN_FAILED, RUN_CANCELED)
# A run in these moves no more unless a scheduler retries some of its sessions.
RUN_FINISHED = (RUN_DONE, RUN_FAILED, RUN_CANCELED)

FULL = "full"
INCREMENTAL = "incremental"

SESSION_REQUESTED = "requested"
SESSION_AVAILABLE = "available"
SESSION_DOWNLOADED = "downloaded"
SESSION_APPLIED = "applied"
SESSION_NO_DATA = "no_data"
SESSION_CREATE_FAILED = "create_failed"
SESSION_DOWNLOAD_FAILED = "download_failed"
SESSION_APPLY_FAILED = "apply_failed"
SESSION_CANCELED = "canceled"
SESSION_STATUSES = (
    SESSION_REQUESTED,
    SESSION_AVAILABLE,
    SESSION_DOWNLOADED,
    SESSION_APPLIED,
    SESSION_NO_DATA,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_APPLY_FAILED,
    SESSION_CANCELED,
)
# A target's next incremental package starts where the last offered (or later) one ended.
OFFERED_STATUSES = (SESSION_AVAILABLE, SESSION_DOWNLOADED, SESSION_APPLIED, SESSION_NO_DATA)


class SchedulerJob(Timestamped, db.Model):
    """A job of the catalogue (e.g. 1080 Sales tax) and the tables it carries."""

    __tablename__ = "scheduler_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    direction: Mapped[str] = mapped_column(sa.String(15))
    tables: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    exclude_from_offline: Mapped[bool] = mapped_column(default=False)


schedule_job = sa.Table(
    "distribution_schedule_job",
    db.metadata,
    sa.Column("schedule_id", sa.ForeignKey("distribution_schedule.id"), primary_key=True),
    sa.Column("job_id", sa.ForeignKey("scheduler_job.id"), primary_key=True),
)

schedule_group = sa.Table(
    "distribution_schedule_group",
    db.metadata,
    sa.Column("schedule_id", sa.ForeignKey("distribution_schedule.id"), primary_key=True),
    sa.Column("group_id", sa.ForeignKey("channel_data_group.id"), primary_key=True),
)


class DistributionSchedule(Timestamped, db.Model):
    """Runs one or more jobs for its target channel data groups, on demand or on a recurrence."""

    __tablename__ = "distribution_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    full_sync: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    # The recurrence: every N minutes, or a crontab expression read on the wall clock of
    # `time_zone` (so "0 2 * * *" stays 02:00 store time across daylight saving); never both.
    interval_minutes: Mapped[int | None] = mapped_column()
    cron: Mapped[str | None] = mapped_column(sa.String(200))
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="UTC", server_default="UTC")
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    jobs: Mapped[list[SchedulerJob]] = relationship(
        secondary=schedule_job, order_by=SchedulerJob.job_number
    )
    groups: Mapped[list[ChannelDataGroup]] = relationship(
        secondary=schedule_group, order_by=ChannelDataGroup.name
    )


class DistributionRun(db.Model):
    """One run of a schedule: its status and progress, read by the UI, API and CLI."""

    __tablename__ = "distribution_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(sa.ForeignKey("distribution_schedule.id"), index=True)
    # Set when HQ forces a full package for one database: the run reaches only that target.
    channel_database_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("channel_database.id"), index=True
    )
    full_sync: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(sa.String(15), default=RUN_WAITING, index=True)
    requested_by: Mapped[str] = mapped_column(sa.String(254))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    watermark: Mapped[int | None] = mapped_column(sa.BigInteger)
    sessions_total: Mapped[int] = mapped_column(default=0)
    sessions_done: Mapped[int] = mapped_column(default=0)
    sessions_failed: Mapped[int] = mapped_column(default=0)
    # Targets that had nothing new: counted here, not kept as a session each.
    sessions_no_data: Mapped[int] = mapped_column(default=0, server_default="0")
    rows_written: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    message: Mapped[str] = mapped_column(sa.Text, default="")

    schedule: Mapped[DistributionSchedule] = relationship()
    channel_database: Mapped[ChannelDatabase | None] = relationship()


class DataPackage(db.Model):
    """An immutable package file; identical content for many targets is stored once."""

    __tablename__ = "data_package"

    id: Mapped[int] = mapped_column(primary_key=True)
    content_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    job_number: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(12))
    base_version: Mapped[int] = mapped_column(sa.BigInteger)
    new_version: Mapped[int] = mapped_column(sa.BigInteger)
    path: Mapped[str] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    row_counts: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    # SHA-256 of the tables' rows alone: an always-full package equal to the last is not sent.
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DownloadSession(db.Model):
    """One package for one target database in one run, and how far the target got with it."""

    __tablename__ = "download_session"
    __table_args__ = (
        sa.UniqueConstraint(
            "run_id", "channel_database_id", "job_number", name="uq_session_target"
        ),
        sa.Index("ix_download_session_target", "channel_database_id", "job_number", "id"),
        # A device's package check reads only its sessions in the statuses it asks for.
        sa.Index("ix_download_session_database_status", "channel_database_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("distribution_run.id"), index=True)
    channel_database_id: Mapped[int] = mapped_column(sa.ForeignKey("channel_database.id"))
    job_number: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str | None] = mapped_column(sa.String(12))
    scope_key: Mapped[str | None] = mapped_column(sa.String(64))
    base_version: Mapped[int | None] = mapped_column(sa.BigInteger)
    new_version: Mapped[int | None] = mapped_column(sa.BigInteger)
    package_id: Mapped[int | None] = mapped_column(sa.ForeignKey("data_package.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=SESSION_REQUESTED, index=True)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    tries: Mapped[int] = mapped_column(default=0)
    # Downloads or applies the device reported failed since the package was last offered
    # afresh; at the try count the session ends failed instead of being offered again.
    failed_tries: Mapped[int] = mapped_column(default=0, server_default="0")
    # Builds started (claimed) since the session was last requested: the reaper gives up on a
    # session whose builds keep getting lost instead of handing it out for ever.
    build_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # Where the target's next incremental package starts, when later than `new_version`: runs
    # that had nothing new for it move this on instead of keeping a no_data session each.
    offered_through: Mapped[int | None] = mapped_column(sa.BigInteger)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    run: Mapped[DistributionRun] = relationship()
    channel_database: Mapped[ChannelDatabase] = relationship()
    package: Mapped[DataPackage | None] = relationship()


class DownloadSessionTry(db.Model):
    """One failed download or apply a device reported for a session: when, and what it said."""

    __tablename__ = "download_session_try"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("download_session.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(20))
    message: Mapped[str] = mapped_column(sa.Text, default="")
    tried_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


UPLOAD_REQUESTED = "requested"
UPLOAD_DONE = "done"
UPLOAD_FAILED = "upload_failed"
UPLOAD_CANCELED = "canceled"  # with its run, or for a database being replaced
UPLOAD_STATUSES = (UPLOAD_REQUESTED, UPLOAD_DONE, UPLOAD_FAILED, UPLOAD_CANCELED)


class UploadRequest(db.Model):
    """A run of an upload job (P-0001) asking one target database to upload its sales now.

    It is done once the device reports, after the request, that no sale waits on it; it fails
    when the device keeps reporting sales waiting after being asked the try count of times, or
    sends no heartbeat for the try count of its health-check intervals.
    """

    __tablename__ = "upload_request"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "channel_database_id", name="uq_upload_request_target"),
        # The heartbeat asks for the open requests of one database on every call.
        sa.Index("ix_upload_request_open", "channel_database_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("distribution_run.id"), index=True)
    channel_database_id: Mapped[int] = mapped_column(sa.ForeignKey("channel_database.id"))
    status: Mapped[str] = mapped_column(sa.String(20), default=UPLOAD_REQUESTED)
    # Heartbeats told to upload that still reported sales waiting.
    tries: Mapped[int] = mapped_column(default=0)
    # What the device reported waiting on the first heartbeat after the request.
    pending_reported: Mapped[int | None] = mapped_column()
    # Sales received from the database after the request (accepted or duplicate).
    sent: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The database's last heartbeat while the request was open: a silent device fails it.
    last_heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    run: Mapped[DistributionRun] = relationship()
    channel_database: Mapped[ChannelDatabase] = relationship()
