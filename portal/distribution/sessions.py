"""Rules for download sessions: finding them, and giving a failed build another try."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution.models import (
    RUN_RUNNING,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_REQUESTED,
    DistributionRun,
    DistributionSchedule,
    DownloadSession,
)
from portal.distribution.targets import deliveries
from portal.setup.models import ChannelDatabase, Store

# A package that was never built can be built again; a delivered one is the target's business.
RETRYABLE = (SESSION_CREATE_FAILED, SESSION_CANCELED)


def get_session(session_id: int) -> DownloadSession:
    """The download session with this id, or NotFound."""
    session = db.session.get(DownloadSession, session_id)
    if session is None:
        raise NotFound(f"Download session {session_id} does not exist.")
    return session


def sessions_query(
    run_id: int | None = None,
    store_number: str | None = None,
    channel_database_id: int | None = None,
    status: str | None = None,
    job_number: str | None = None,
) -> sa.Select:
    """Download sessions newest first, filtered by run, store, channel database, status or job."""
    stmt = sa.select(DownloadSession).order_by(DownloadSession.id.desc())
    if run_id is not None:
        stmt = stmt.where(DownloadSession.run_id == run_id)
    if store_number:
        stmt = stmt.where(
            DownloadSession.channel_database_id.in_(
                sa.select(ChannelDatabase.id)
                .join(ChannelDatabase.store)
                .where(Store.store_number == store_number.strip().upper())
            )
        )
    if channel_database_id is not None:
        stmt = stmt.where(DownloadSession.channel_database_id == channel_database_id)
    if status:
        stmt = stmt.where(DownloadSession.status == status)
    if job_number:
        stmt = stmt.where(DownloadSession.job_number == job_number.strip())
    return stmt


def schedules_reaching(database: ChannelDatabase) -> list[DistributionSchedule]:
    """The enabled schedules that send this database something, by code."""
    stmt = (
        sa.select(DistributionSchedule)
        .where(DistributionSchedule.enabled)
        .order_by(DistributionSchedule.code)
    )
    return [schedule for schedule in db.session.scalars(stmt) if deliveries(schedule, database)]


def retry_session(session: DownloadSession) -> DownloadSession:
    """Ask again for a package that could not be built; the caller commits, then enqueues it."""
    previous = session.status
    if previous not in RETRYABLE:
        raise Conflict(
            f"Download session {session.id} is {previous}: only a session whose package could "
            "not be built (create_failed) or that was canceled can be retried."
        )
    # Only if nobody retried it meanwhile, so the run counts it back once.
    retried = _request_again(session.run, [session.id], previous)
    db.session.expire(session)
    if not retried:
        raise Conflict(f"Download session {session.id} changed meanwhile; reload and try again.")
    audit.record(
        "retry",
        "download_session",
        str(session.id),
        before={"status": previous},
        after={"status": SESSION_REQUESTED},
    )
    return session


def retry_failed(run: DistributionRun) -> list[int]:
    """Ask again for every package of a run that could not be built; returns the sessions.

    The caller commits, then enqueues them.
    """
    failed = list(
        db.session.scalars(
            sa.select(DownloadSession.id)
            .where(
                DownloadSession.run_id == run.id, DownloadSession.status == SESSION_CREATE_FAILED
            )
            .order_by(DownloadSession.id)
        )
    )
    retried = _request_again(run, failed, SESSION_CREATE_FAILED)
    if not retried:
        raise Conflict(f"Run {run.id} has no download session that failed to build.")
    audit.record(
        "retry",
        "distribution_run",
        str(run.id),
        before={"status": SESSION_CREATE_FAILED},
        after={"status": SESSION_REQUESTED, "sessions": retried},
    )
    return retried


def _request_again(run: DistributionRun, session_ids: list[int], previous: str) -> list[int]:
    """Make sessions still in `previous` requested again with fresh attempts, and reopen the run."""
    actor, _ = audit.current_actor()
    retried = sorted(
        db.session.scalars(
            sa.update(DownloadSession)
            .where(DownloadSession.id.in_(session_ids), DownloadSession.status == previous)
            .values(
                status=SESSION_REQUESTED,
                message=f"Retried by {actor}",
                build_attempts=0,
                updated_at=utcnow(),
            )
            .returning(DownloadSession.id)
            .execution_options(synchronize_session=False)
        )
    )
    if retried:
        db.session.execute(
            sa.update(DistributionRun)
            .where(DistributionRun.id == run.id)
            .values(
                status=RUN_RUNNING,
                finished_at=None,
                message="",
                sessions_done=DistributionRun.sessions_done - len(retried),
                sessions_failed=DistributionRun.sessions_failed
                - len(retried) * int(previous == SESSION_CREATE_FAILED),
            )
            .execution_options(synchronize_session=False)
        )
        db.session.expire(run)
    return retried
