"""Rules for distribution runs: requesting one, planning its download sessions, progress."""

from datetime import timedelta

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import NotFound
from portal.core.models import utcnow
from portal.distribution.models import (
    RUN_DONE,
    RUN_RUNNING,
    RUN_WAITING,
    SESSION_REQUESTED,
    DistributionRun,
    DistributionSchedule,
    DownloadSession,
)
from portal.distribution.targets import deliveries
from portal.extensions import db
from portal.masterdata.versioning import committed_version


def request_run(schedule: DistributionSchedule, full_sync: bool = False) -> DistributionRun:
    """Record a run of a schedule as waiting for a worker; the caller commits, then enqueues."""
    actor, _ = audit.current_actor()
    run = DistributionRun(
        schedule=schedule,
        full_sync=full_sync or schedule.full_sync,
        status=RUN_WAITING,
        requested_by=actor,
        message="Waiting for a worker to pick the run up.",
    )
    db.session.add(run)
    db.session.flush()
    audit.record("run", "distribution_schedule", schedule.code, after={"run": run.id})
    return run


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
    planned = deliveries(run.schedule)
    sessions = [
        DownloadSession(run=run, channel_database=item.database, job_number=item.job.job_number)
        for item in planned
    ]
    db.session.add_all(sessions)
    run.sessions_total = len(sessions)
    if not sessions:
        run.status = RUN_DONE
        run.finished_at = utcnow()
        run.message = "No active channel database in the target groups receives these jobs."
    db.session.flush()
    return [session.id for session in sessions]


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
    """
    now = utcnow()
    due = db.session.scalars(
        sa.select(DistributionSchedule)
        .where(
            DistributionSchedule.enabled,
            DistributionSchedule.interval_minutes.is_not(None),
            sa.or_(
                DistributionSchedule.next_run_at.is_(None), DistributionSchedule.next_run_at <= now
            ),
        )
        .with_for_update(skip_locked=True)
    )
    for schedule in due:
        request_run(schedule)
        schedule.next_run_at = now + timedelta(minutes=schedule.interval_minutes)
    db.session.flush()
    return list(
        db.session.scalars(
            sa.select(DistributionRun.id)
            .where(DistributionRun.status == RUN_WAITING)
            .order_by(DistributionRun.id)
        )
    )


def stalled_sessions(older_than: timedelta) -> list[int]:
    """Requested sessions of running runs whose build has not moved for a while.

    A worker killed mid-build leaves its session requested; the embedded broker never
    redelivers such a task and Redis only after its visibility timeout, so the tick hands these
    sessions out again. Building twice is harmless: the first finisher wins.
    """
    now = utcnow()
    stalled = list(
        db.session.scalars(
            sa.select(DownloadSession.id)
            .join(DownloadSession.run)
            .where(
                DistributionRun.status == RUN_RUNNING,
                DownloadSession.status == SESSION_REQUESTED,
                DownloadSession.updated_at < now - older_than,
            )
            .order_by(DownloadSession.id)
        )
    )
    if stalled:
        db.session.execute(
            sa.update(DownloadSession)
            .where(DownloadSession.id.in_(stalled))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return stalled
