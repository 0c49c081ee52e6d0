"""Rules for download sessions: finding them, retrying failed ones, full data sync."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import lifecycle, runs
from portal.distribution.models import (
    RUN_RUNNING,
    SESSION_APPLY_FAILED,
    SESSION_AVAILABLE,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_REQUESTED,
    DistributionRun,
    DistributionSchedule,
    DownloadSession,
)
from portal.distribution.targets import deliveries
from portal.setup.models import ChannelDatabase, Store

# A package that was never built can be built again.
REBUILDABLE = (SESSION_CREATE_FAILED, SESSION_CANCELED)
# A package the device gave up on is offered again as it is, with fresh tries.
REOFFERABLE = (SESSION_DOWNLOAD_FAILED, SESSION_APPLY_FAILED)
RETRYABLE = REBUILDABLE + REOFFERABLE


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


def retry_session(session: DownloadSession) -> list[int]:
    """Try a failed or canceled session again; returns the sessions to build (maybe none).

    One whose package could not be built (or was canceled) is requested again; the caller
    commits, then enqueues it. One the device failed to download or apply is offered again.
    """
    previous = session.status
    if previous not in RETRYABLE:
        raise Conflict(
            f"Download session {session.id} is {previous}: only a failed or canceled session "
            "can be retried."
        )
    # Only if nobody retried it meanwhile, so the run counts it back once.
    rebuild = previous in REBUILDABLE or not _has_file(session)
    if rebuild:
        retried = _request_again(session.run, [session.id], previous)
    else:
        retried = lifecycle.offer_again([session.id], previous)
    db.session.expire(session)
    if not retried:
        raise Conflict(f"Download session {session.id} changed meanwhile; reload and try again.")
    audit.record(
        "retry",
        "download_session",
        str(session.id),
        before={"status": previous},
        after={"status": SESSION_REQUESTED if rebuild else SESSION_AVAILABLE},
    )
    return retried if rebuild else []


def _has_file(session: DownloadSession) -> bool:
    return session.package is not None and session.package.removed_at is None


def retry_failed(run: DistributionRun) -> list[int]:
    """Try every failed session of a run again; returns the sessions to build.

    Builds that failed are requested again, packages devices gave up on are offered again.
    The caller commits, then enqueues the builds.
    """
    failed = db.session.execute(
        sa.select(DownloadSession.id, DownloadSession.status)
        .where(
            DownloadSession.run_id == run.id,
            DownloadSession.status.in_((SESSION_CREATE_FAILED, *REOFFERABLE)),
        )
        .order_by(DownloadSession.id)
    ).all()
    rebuilt = _request_again(
        run, [i for i, status in failed if status == SESSION_CREATE_FAILED], SESSION_CREATE_FAILED
    )
    offered = []
    for status in REOFFERABLE:
        offered += lifecycle.offer_again([i for i, s in failed if s == status], status)
    if not rebuilt and not offered:
        raise Conflict(f"Run {run.id} has no failed download session.")
    audit.record(
        "retry",
        "distribution_run",
        str(run.id),
        after={"rebuilt": rebuilt, "offered_again": sorted(offered)},
    )
    return rebuilt


def retry_selected(session_ids: list[int]) -> tuple[list[int], int]:
    """Retry each failed session of a selection; returns the builds to enqueue and how many."""
    to_build, count = [], 0
    for session in db.session.scalars(
        sa.select(DownloadSession)
        .where(DownloadSession.id.in_(session_ids), DownloadSession.status.in_(RETRYABLE))
        .order_by(DownloadSession.id)
    ):
        to_build += retry_session(session)
        count += 1
    if not count:
        raise Conflict("None of the selected sessions is failed or canceled.")
    return to_build, count


def databases_of(session_ids: list[int]) -> list[int]:
    """The channel databases of a selection of sessions, by id."""
    return list(
        db.session.scalars(
            sa.select(DownloadSession.channel_database_id)
            .where(DownloadSession.id.in_(session_ids))
            .distinct()
            .order_by(DownloadSession.channel_database_id)
        )
    )


def full_sync_targets(database_ids: list[int]) -> dict[ChannelDatabase, list]:
    """The databases of a selection that some enabled schedule reaches, with those schedules."""
    databases = db.session.scalars(
        sa.select(ChannelDatabase)
        .where(ChannelDatabase.id.in_(database_ids))
        .order_by(ChannelDatabase.name)
    )
    targets = {database: schedules_reaching(database) for database in databases}
    return {database: found for database, found in targets.items() if found}


def request_full_sync(database_ids: list[int]) -> list[DistributionRun]:
    """Request a full package from each schedule reaching each database (each run audited).

    The caller commits, then dispatches the runs.
    """
    targets = full_sync_targets(database_ids)
    if not targets:
        raise Conflict(
            "No enabled schedule sends anything to the selected channel database(s): they are "
            "inactive, never activated, or outside every schedule's groups."
        )
    requested = [
        runs.request_run(schedule, True, database.id)
        for database, schedules in targets.items()
        for schedule in schedules
    ]
    return requested


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
