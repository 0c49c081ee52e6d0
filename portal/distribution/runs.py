"""Rules for distribution runs: requesting one, planning its download sessions, progress."""

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
    """Fix a waiting run's watermark and create its sessions; returns the sessions left to build.

    A redelivered task finds the run already planned and just returns what is still requested.
    """
    run = db.session.get(DistributionRun, run_id, with_for_update=True)
    if run is None:
        return []
    if run.status == RUN_WAITING:
        run.watermark = committed_version(db.session.connection())
        run.status = RUN_RUNNING
        run.started_at = utcnow()
        run.message = ""
        planned = deliveries(run.schedule)
        for delivery in planned:
            db.session.add(
                DownloadSession(
                    run=run, channel_database=delivery.database, job_number=delivery.job.job_number
                )
            )
        run.sessions_total = len(planned)
        if not planned:
            run.status = RUN_DONE
            run.finished_at = utcnow()
            run.message = "No active channel database in the target groups receives these jobs."
        db.session.flush()
    return list(
        db.session.scalars(
            sa.select(DownloadSession.id)
            .where(DownloadSession.run_id == run.id, DownloadSession.status == SESSION_REQUESTED)
            .order_by(DownloadSession.id)
        )
    )


def progress(run: DistributionRun) -> int:
    """Percent of the run's sessions built."""
    if not run.sessions_total:
        return 100 if run.status == RUN_DONE else 0
    return int(100 * run.sessions_done / run.sessions_total)
