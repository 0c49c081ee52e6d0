"""Rules for distribution runs: requesting one, planning its download sessions, progress."""

from datetime import timedelta

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.search import search
from portal.core.sql import insert_many
from portal.distribution import builds, upload_requests
from portal.distribution.models import (
    RUN_DONE,
    RUN_RUNNING,
    RUN_WAITING,
    SESSION_REQUESTED,
    DistributionRun,
    DistributionSchedule,
    DownloadSession,
)
from portal.distribution.services import set_next_run
from portal.distribution.targets import deliveries
from portal.masterdata.versioning import committed_version
from portal.setup.models import ChannelDatabase


def request_run(
    schedule: DistributionSchedule, full_sync: bool = False, channel_database: int | None = None
) -> DistributionRun:
    """Record a run of a schedule as waiting for a worker; the caller commits, then enqueues.

    With `channel_database` (an id) the run forces a full package on that one target only.
    """
    if not schedule.enabled:
        raise Conflict(f"Distribution schedule '{schedule.code}' is disabled; enable it first.")
    database = None if channel_database is None else _single_target(schedule, channel_database)
    actor, _ = audit.current_actor()
    run = DistributionRun(
        schedule=schedule,
        channel_database=database,
        full_sync=full_sync or schedule.full_sync or database is not None,
        status=RUN_WAITING,
        requested_by=actor,
        message="Waiting for a worker to pick the run up.",
    )
    db.session.add(run)
    db.session.flush()
    after = {"run": run.id, "full_sync": run.full_sync}
    if database is not None:
        after["channel_database"] = database.name
    audit.record("run", "distribution_schedule", schedule.code, after=after)
    return run


def _single_target(schedule: DistributionSchedule, database_id: int) -> ChannelDatabase:
    database = db.session.get(ChannelDatabase, database_id)
    if database is None:
        raise ValidationFailed(
            f"Channel database {database_id} does not exist.",
            {"channel_database": "Unknown channel database."},
        )
    if not deliveries(schedule, database):
        raise ValidationFailed(
            f"Schedule '{schedule.code}' sends nothing to channel database '{database.name}': "
            "it is inactive, outside the schedule's groups, or receives none of its jobs.",
            {"channel_database": "Not a target of this schedule."},
        )
    return database


def get_run(run_id: int) -> DistributionRun:
    """The run with this id, or NotFound."""
    run = db.session.get(DistributionRun, run_id)
    if run is None:
        raise NotFound(f"Run {run_id} does not exist.")
    return run


def plan_run(run_id: int) -> list[int]:
    """Fix a waiting run's watermark and create its sessions; returns the sessions to build.

    Only the call that starts the run returns sessions, so a run handed over twice is built once.
    """
    run = db.session.get(DistributionRun, run_id, with_for_update=True)
    if run is None or run.status != RUN_WAITING:
        return []
    run.watermark = committed_version(db.session.connection())
    run.status = RUN_RUNNING
    run.started_at = utcnow()
    run.message = ""
    planned = deliveries(run.schedule, run.channel_database)
    # One statement: a run of 50,000 targets inserted row by row took seconds.
    session_ids = insert_many(
        DownloadSession.__table__,
        [
            {
                "run_id": run.id,
                "channel_database_id": item.database.id,
                "job_number": item.job.job_number,
            }
            for item in planned
        ],
        DownloadSession.id,
    )
    run.sessions_total = len(session_ids) + upload_requests.plan(run)
    if not run.sessions_total:
        run.status = RUN_DONE
        run.finished_at = utcnow()
        run.message = (
            "No active channel database in the target groups receives these jobs."
            if run.channel_database is None
            else f"Channel database '{run.channel_database.name}' no longer receives these jobs."
        )
    db.session.flush()
    return session_ids


def runs_query(
    schedule_code: str | None = None, status: str | None = None, q: str | None = None
) -> sa.Select:
    """Runs newest first, optionally of one schedule (by code), in one status, or by requester."""
    stmt = sa.select(DistributionRun).order_by(DistributionRun.id.desc())
    stmt = search(stmt, q, DistributionRun.requested_by)
    if schedule_code:
        stmt = stmt.join(DistributionRun.schedule).where(DistributionSchedule.code == schedule_code)
    if status:
        stmt = stmt.where(DistributionRun.status == status)
    return stmt


def progress(run: DistributionRun) -> int:
    """Percent of the run's sessions built."""
    if not run.sessions_total:
        return 100 if run.status == RUN_DONE else 0
    return int(100 * run.sessions_done / run.sessions_total)


def mark_undispatched(run_id: int, reason: str) -> None:
    """Say on a waiting run why no worker has it yet; the beat tick hands it over later."""
    run = db.session.get(DistributionRun, run_id)
    if run is not None and run.status == RUN_WAITING:
        run.message = (
            f"Waiting: the task queue is unreachable ({reason}); the run starts once it is back."
        )


def due_runs() -> list[int]:
    """Record runs for enabled schedules whose time has come, plus runs left waiting.

    A waiting run is handed over again on every tick: a run that already started ignores it.
    A schedule due for a while (beat was down) runs once and next falls due after now.
    """
    now = utcnow()
    due = db.session.scalars(
        sa.select(DistributionSchedule)
        .where(
            DistributionSchedule.enabled,
            sa.or_(
                DistributionSchedule.interval_minutes.is_not(None),
                DistributionSchedule.cron.is_not(None),
            ),
            sa.or_(
                DistributionSchedule.next_run_at.is_(None), DistributionSchedule.next_run_at <= now
            ),
        )
        .with_for_update(skip_locked=True)
    )
    for schedule in due:
        request_run(schedule)
        set_next_run(schedule, now)
    db.session.flush()
    return list(
        db.session.scalars(
            sa.select(DistributionRun.id)
            .where(DistributionRun.status == RUN_WAITING)
            .order_by(DistributionRun.id)
        )
    )


def reap_lost_builds(older_than: timedelta, max_attempts: int) -> list[list[int]]:
    """Hand out again the builds that stopped moving; returns the batches to send to workers.

    A worker killed mid-build leaves its sessions requested; the embedded broker never
    redelivers such a task and Redis only after its visibility timeout, so the tick hands these
    sessions out again. Building twice is harmless: the first finisher wins. A session whose
    build was started `max_attempts` times and lost each time (say, a package that kills its
    worker) is marked create_failed instead, so its run finishes and offers a retry.
    """
    now = utcnow()
    stalled = db.session.execute(
        sa.select(DownloadSession.id, DownloadSession.build_attempts)
        .join(DownloadSession.run)
        .where(
            DistributionRun.status == RUN_RUNNING,
            DownloadSession.status == SESSION_REQUESTED,
            DownloadSession.updated_at < now - older_than,
        )
        .order_by(DownloadSession.id)
        # A session a live build is finishing right now is locked by it, and not lost.
        .with_for_update(of=DownloadSession, skip_locked=True)
    ).all()
    builds.give_up(
        [session_id for session_id, attempts in stalled if attempts >= max_attempts],
        f"Build lost {max_attempts} times; retry it from the run page.",
    )
    again = [(session_id, attempts) for session_id, attempts in stalled if attempts < max_attempts]
    if again:
        db.session.execute(
            sa.update(DownloadSession)
            .where(DownloadSession.id.in_([session_id for session_id, _ in again]))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    builds.close_forgotten_runs()
    # A session whose build was lost before goes alone, so a package that kills its worker
    # does not take its batch-mates down with it again.
    never_started = [session_id for session_id, attempts in again if not attempts]
    return builds.batches(never_started) + [[session_id] for session_id, n in again if n]
