"""A session after its build: failed tries on the device, giving up, cancelling.

A device that fails to download or apply a package gets it offered again, up to the try count;
then the session ends failed and waits for a scheduler (retry, full data sync or cancel).
Cancelling a package the device had not applied breaks the chain of incremental packages of
its job, so the later pending incrementals built on it go too, and the database's next package
of that job is a full one (`builds.broken_chains`).
"""

from collections import Counter

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import builds, parameters, upload_requests
from portal.distribution.models import (
    FULL,
    RUN_CANCELED,
    RUN_WAITING,
    SESSION_APPLY_FAILED,
    SESSION_AVAILABLE,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_DOWNLOADED,
    SESSION_REQUESTED,
    UPLOAD_REQUESTED,
    DistributionRun,
    DownloadSession,
    DownloadSessionTry,
    UploadRequest,
)
from portal.distribution.signals import session_failed

# What a device may report about a package it could not use.
DEVICE_FAILURES = (SESSION_DOWNLOAD_FAILED, SESSION_APPLY_FAILED)
# Not yet applied and not given up: a scheduler may cancel these.
CANCELABLE = (
    SESSION_REQUESTED,
    SESSION_AVAILABLE,
    SESSION_DOWNLOADED,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_APPLY_FAILED,
)
FAILED = (SESSION_CREATE_FAILED, SESSION_DOWNLOAD_FAILED, SESSION_APPLY_FAILED)
BUILT_ON_CANCELED = "Built on a canceled package: the next package of its job is a full one."


def record_failure(session: DownloadSession, status: str, message: str) -> bool:
    """Keep a device's failed try; offer the package again, or end the session failed.

    Returns True when the session ended failed (the try count is used up). The caller has
    checked that the session is offered to the device and holds it.
    """
    db.session.add(DownloadSessionTry(session_id=session.id, status=status, message=message))
    tries = session.failed_tries + 1
    limit = parameters.current("try_count")
    ended = tries >= limit
    what = "download" if status == SESSION_DOWNLOAD_FAILED else "apply"
    session.failed_tries = tries
    session.updated_at = utcnow()
    if ended:
        session.status = status
        session.message = message
    else:
        session.status = SESSION_AVAILABLE
        session.message = f"Failed to {what} (try {tries} of {limit}): {message}".rstrip(": ")
    db.session.flush()
    if ended:
        session_failed.send(
            None,
            session_id=session.id,
            channel_database_id=session.channel_database_id,
            job_number=session.job_number,
            status=status,
            message=message,
        )
    return ended


def tries_of(session: DownloadSession) -> list[DownloadSessionTry]:
    """The failed tries a device reported for a session, oldest first."""
    return list(
        db.session.scalars(
            sa.select(DownloadSessionTry)
            .where(DownloadSessionTry.session_id == session.id)
            .order_by(DownloadSessionTry.id)
        )
    )


def cancel_sessions(session_ids: list[int], reason: str) -> list[int]:
    """Cancel the sessions still pending among these, and the incrementals built on them.

    Returns every session canceled, by id. A session still being built counts as built for its
    run, which otherwise would wait for it for ever.
    """
    pending = db.session.execute(
        sa.select(
            DownloadSession.id,
            DownloadSession.run_id,
            DownloadSession.channel_database_id,
            DownloadSession.job_number,
            DownloadSession.status,
        )
        .where(DownloadSession.id.in_(session_ids), DownloadSession.status.in_(CANCELABLE))
        .with_for_update()
    ).all()
    chosen = {row.id for row in pending}
    dependants = _built_on(chosen)
    canceled = []
    for ids, message in ((chosen, reason), (dependants, BUILT_ON_CANCELED)):
        if ids:
            canceled += db.session.execute(
                sa.update(DownloadSession)
                .where(DownloadSession.id.in_(sorted(ids)), DownloadSession.status.in_(CANCELABLE))
                .values(status=SESSION_CANCELED, message=message, updated_at=utcnow())
                .returning(DownloadSession.id, DownloadSession.run_id)
                .execution_options(synchronize_session=False)
            ).all()
    was_requested = {row.id for row in pending if row.status == SESSION_REQUESTED}
    unbuilt = Counter(run_id for session_id, run_id in canceled if session_id in was_requested)
    for run_id, count in unbuilt.items():
        builds.count_built(run_id, count)
    builds.mark_canceled_runs(sorted({run_id for _, run_id in canceled}))
    return sorted(session_id for session_id, _ in canceled)


def _built_on(chosen: set[int]) -> set[int]:
    """Later pending incrementals of the same database and job, up to its next full package.

    One query for the whole selection: a run or a database may have thousands of sessions.
    """
    if not chosen:
        return set()
    first = (
        sa.select(
            DownloadSession.channel_database_id.label("database_id"),
            DownloadSession.job_number.label("job_number"),
            sa.func.min(DownloadSession.id).label("first_id"),
        )
        .where(DownloadSession.id.in_(sorted(chosen)))
        .group_by(DownloadSession.channel_database_id, DownloadSession.job_number)
        .subquery()
    )
    later = db.session.execute(
        sa.select(
            DownloadSession.id,
            DownloadSession.kind,
            DownloadSession.channel_database_id,
            DownloadSession.job_number,
        )
        .join(
            first,
            sa.and_(
                DownloadSession.channel_database_id == first.c.database_id,
                DownloadSession.job_number == first.c.job_number,
                DownloadSession.id > first.c.first_id,
            ),
        )
        .where(
            DownloadSession.status.in_(CANCELABLE),
            DownloadSession.package_id.is_not(None),
        )
        .order_by(
            DownloadSession.channel_database_id, DownloadSession.job_number, DownloadSession.id
        )
    ).all()
    dependants: set[int] = set()
    ended: set[tuple[int, str]] = set()
    for session_id, kind, database_id, job_number in later:
        chain = (database_id, job_number)
        if chain in ended or session_id in chosen:
            continue
        if kind == FULL:
            ended.add(chain)  # a full package kept depends on nothing before it
        else:
            dependants.add(session_id)
    return dependants


def cancel_session(session: DownloadSession) -> list[int]:
    """Cancel one pending session (and the incrementals built on it); returns those canceled."""
    previous = session.status
    if previous not in CANCELABLE:
        raise Conflict(
            f"Download session {session.id} is {previous}: only a session not yet applied "
            "(requested, available, downloaded or failed) can be canceled."
        )
    actor, _ = audit.current_actor()
    canceled = cancel_sessions([session.id], f"Canceled by {actor}.")
    db.session.expire(session)
    if session.id not in canceled:
        raise Conflict(f"Download session {session.id} changed meanwhile; reload and try again.")
    audit.record(
        "cancel",
        "download_session",
        str(session.id),
        before={"status": previous},
        after={"status": SESSION_CANCELED, "sessions": canceled},
    )
    return canceled


def cancel_run(run: DistributionRun) -> list[int]:
    """Cancel a run: it starts no more, its pending sessions are canceled, it shows canceled."""
    actor, _ = audit.current_actor()
    previous = run.status
    ids = list(
        db.session.scalars(
            sa.select(DownloadSession.id).where(
                DownloadSession.run_id == run.id, DownloadSession.status.in_(CANCELABLE)
            )
        )
    )
    if previous != RUN_WAITING and not ids and not _open_uploads(UploadRequest.run_id == run.id):
        raise Conflict(f"Run {run.id} is {previous} and has no session left to cancel.")
    reason = f"Canceled with run {run.id} by {actor}."
    canceled = cancel_sessions(ids, reason)
    uploads = upload_requests.cancel_open(UploadRequest.run_id == run.id, reason)
    asked = f", {uploads} upload request(s)" if uploads else ""
    db.session.execute(
        sa.update(DistributionRun)
        .where(DistributionRun.id == run.id)
        .values(
            status=RUN_CANCELED,
            finished_at=sa.func.coalesce(DistributionRun.finished_at, utcnow()),
            message=f"Canceled by {actor}: {len(canceled)} session(s){asked} canceled.",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.expire(run)
    audit.record(
        "cancel",
        "distribution_run",
        str(run.id),
        before={"status": previous},
        after={"status": run.status, "sessions": canceled, "upload_requests": uploads},
    )
    return canceled


def _open_uploads(where: sa.ColumnElement[bool]) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(where, UploadRequest.status == UPLOAD_REQUESTED)
    )


def cancel_selected(session_ids: list[int]) -> list[int]:
    """Cancel the pending sessions of a selection (and what was built on them); returns those."""
    actor, _ = audit.current_actor()
    canceled = cancel_sessions(session_ids, f"Canceled by {actor}.")
    if not canceled:
        raise Conflict("None of the selected sessions is pending: nothing to cancel.")
    audit.record("cancel", "download_session", str(canceled[0]), after={"sessions": canceled})
    return canceled


def pending_of_run(run_id: int) -> int:
    """How many sessions of a run a cancel would reach."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            DownloadSession.run_id == run_id, DownloadSession.status.in_(CANCELABLE)
        )
    )


def failed_of_run(run_id: int) -> int:
    """How many sessions of a run ended failed."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            DownloadSession.run_id == run_id, DownloadSession.status.in_(FAILED)
        )
    )


def pending_of_database(database_id: int) -> int:
    """How many sessions of a database a cancel would reach (not yet applied nor given up)."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            DownloadSession.channel_database_id == database_id,
            DownloadSession.status.in_(CANCELABLE),
        )
    )


def cancel_database(database_id: int, name: str) -> list[int]:
    """Cancel every pending session of a database, and the runs waiting to reach it alone."""
    actor, _ = audit.current_actor()
    ids = list(
        db.session.scalars(
            sa.select(DownloadSession.id).where(
                DownloadSession.channel_database_id == database_id,
                DownloadSession.status.in_(CANCELABLE),
            )
        )
    )
    waiting = list(
        db.session.scalars(
            sa.select(DistributionRun.id).where(
                DistributionRun.channel_database_id == database_id,
                DistributionRun.status == RUN_WAITING,
            )
        )
    )
    of_database = UploadRequest.channel_database_id == database_id
    if not ids and not waiting and not _open_uploads(of_database):
        raise Conflict(f"Channel database '{name}' has no pending download session to cancel.")
    reason = f"Canceled for database {name} by {actor}."
    canceled = cancel_sessions(ids, reason)
    uploads = upload_requests.cancel_open(of_database, reason)
    if waiting:
        db.session.execute(
            sa.update(DistributionRun)
            .where(DistributionRun.id.in_(waiting), DistributionRun.status == RUN_WAITING)
            .values(status=RUN_CANCELED, finished_at=utcnow(), message=f"Canceled by {actor}.")
            .execution_options(synchronize_session=False)
        )
    audit.record(
        "cancel_sessions",
        "channel_database",
        name,
        after={"sessions": canceled, "runs": waiting, "upload_requests": uploads},
    )
    return canceled


def offer_again(session_ids: list[int], previous: str) -> list[int]:
    """Offer again packages the device gave up on, with fresh tries; returns those offered."""
    actor, _ = audit.current_actor()
    return sorted(
        db.session.scalars(
            sa.update(DownloadSession)
            .where(DownloadSession.id.in_(session_ids), DownloadSession.status == previous)
            .values(
                status=SESSION_AVAILABLE,
                message=f"Offered again by {actor}.",
                failed_tries=0,
                updated_at=utcnow(),
            )
            .returning(DownloadSession.id)
            .execution_options(synchronize_session=False)
        )
    )
