"""Rules for the packages a device fetches and applies: which, in what order, and how far it got.

A database applies its sessions in id order across jobs; a failed one holds back the later
ones until it is applied or superseded by a later full package of its job.
"""

import functools
import hashlib
import json
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import aliased, joinedload

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.pagination import keyset_rows
from portal.device_api import credentials
from portal.distribution import builds, lifecycle
from portal.distribution.lifecycle import DEVICE_FAILURES
from portal.distribution.models import (
    FULL,
    SESSION_APPLIED,
    SESSION_APPLY_FAILED,
    SESSION_AVAILABLE,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_DOWNLOADED,
    SESSION_REQUESTED,
    DataPackage,
    DownloadSession,
)
from portal.distribution.storage import package_store
from portal.setup.models import ChannelDatabase

LIST_AVAILABLE = "available"
LIST_APPLIED = "applied"
LIST_ALL = "all"
LIST_STATUSES = (LIST_AVAILABLE, LIST_APPLIED, LIST_ALL)

# Offered to the device and not yet applied. One that failed its last try is not: it waits
# for a scheduler.
OFFERED = (SESSION_AVAILABLE, SESSION_DOWNLOADED)
# Not yet applied and not given up: each holds back the sessions after it.
PENDING = (
    SESSION_REQUESTED,
    SESSION_AVAILABLE,
    SESSION_DOWNLOADED,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_APPLY_FAILED,
)
# A device that downloaded from object storage says so: the portal never saw the bytes go.
REPORTABLE = (SESSION_DOWNLOADED, SESSION_APPLIED, SESSION_APPLY_FAILED, SESSION_DOWNLOAD_FAILED)


def list_state(
    database_id: int, status: str, cursor: str | None, limit: int
) -> tuple[list[sa.Row], str | None]:
    """What names a page of the database's package list as the device asks for it: each
    session's (id, status, package SHA-256) in apply order, and the next page's cursor.

    Plain columns through the index on (database, status), in a statement built once: all a
    device with nothing new costs.
    """
    return keyset_rows(
        _state_query(status), DownloadSession.id, cursor, limit, {"database_id": database_id}
    )


@functools.cache
def _state_query(status: str) -> sa.Select:
    return state_select(sa.bindparam("database_id"), status)


@functools.cache
def check_by_token(status: str, limit: int) -> sa.Select:
    """A package check in one PostgreSQL statement: the token whose hash is bound
    (`token_hash`) with its id and last use, and its database's first page as `list_state`
    reads it (a row with no session when the list is empty; no row for a token that does not
    authenticate)."""
    device = credentials.TOKEN_LOOKUP.cte("device")
    listed = state_select(device.c.database_id, status).limit(limit + 1).lateral("listed")
    return (
        sa.select(
            device.c.token_id, device.c.last_used_at, listed.c.id, listed.c.status, listed.c.sha256
        )
        .select_from(device.outerjoin(listed, sa.true()))
        .order_by(listed.c.id)
    )


def state_select(database_id: sa.ColumnElement, status: str) -> sa.Select:
    """The (id, status, package SHA-256) of the database's sessions in apply order, as
    `list_state` reads them; `database_id` may be a column of a statement around it."""
    return _filtered(
        sa.select(DownloadSession.id, DownloadSession.status, DataPackage.sha256)
        .join(DataPackage, DataPackage.id == DownloadSession.package_id)
        .where(DownloadSession.channel_database_id == database_id)
        .order_by(DownloadSession.id),
        status,
    )


def packages_query(database_id: int, status: str = LIST_AVAILABLE) -> sa.Select:
    """The database's sessions that have a package, in apply order, filtered as the device asks."""
    return _filtered(
        sa.select(DownloadSession)
        .where(
            DownloadSession.channel_database_id == database_id,
            DownloadSession.package_id.is_not(None),
        )
        .options(joinedload(DownloadSession.package))
        .order_by(DownloadSession.id),
        status,
    )


def _filtered(stmt: sa.Select, status: str) -> sa.Select:
    if status == LIST_AVAILABLE:
        return stmt.where(DownloadSession.status.in_(OFFERED))
    if status == LIST_APPLIED:
        return stmt.where(DownloadSession.status == SESSION_APPLIED)
    return stmt


def list_etag(states: list, next_cursor: str | None) -> str:
    """Names a page of the package list by what can change in it: each session and its status.

    `states` are (id, status, SHA-256) of each session listed, as `list_state` reads
    them. A package's content never changes (its SHA-256 names it), so this names the page.
    """
    shown = [[session_id, status, sha256] for session_id, status, sha256 in states]
    return hashlib.sha256(json.dumps([*shown, next_cursor]).encode()).hexdigest()[:32]


def states_of(sessions: list[DownloadSession]) -> list[tuple[int, str, str]]:
    """The (id, status, SHA-256) of sessions, as `list_state` reads them."""
    return [(session.id, session.status, session.package.sha256) for session in sessions]


def get_package(database: ChannelDatabase, session_id: int) -> DownloadSession:
    """One of the database's sessions; another database's is as unknown as a missing one."""
    session = db.session.get(DownloadSession, session_id)
    if session is None or session.channel_database_id != database.id:
        raise NotFound(f"Package {session_id} does not exist.")
    return session


def package_file(session: DownloadSession) -> tuple[Path | None, str | None]:
    """Where a session's package is: a local file, or a presigned URL of object storage.

    NotFound when it has no file (any more).
    """
    package = session.package
    if package is None:
        raise NotFound(f"Package {session.id} has no file: it is {session.status}.")
    store = package_store()
    path = url = None
    if package.removed_at is None:
        path = store.local_path(package.path)
        if path is None:
            url = store.download_url(package.path, f"package-{session.id}.zip")
    if path is None and url is None:
        raise NotFound(
            f"The file of package {session.id} was removed by retention; ask HQ for a full "
            f"package of job {session.job_number}."
        )
    return path, url


def mark_downloaded(session_id: int) -> bool:
    """Record that the device fetched the whole file; True if the session moved on."""
    moved = db.session.execute(
        sa.update(DownloadSession)
        .where(
            DownloadSession.id == session_id,
            DownloadSession.status == SESSION_AVAILABLE,
        )
        .values(status=SESSION_DOWNLOADED, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(moved)


def first_blocker(session: DownloadSession) -> DownloadSession | None:
    """The earliest session of the database that must be applied before this one, if any."""
    earlier = aliased(DownloadSession)
    full = aliased(DownloadSession)
    superseded = (
        sa.exists()
        .where(
            full.channel_database_id == session.channel_database_id,
            full.job_number == earlier.job_number,
            full.kind == FULL,
            full.package_id.is_not(None),
            full.status != SESSION_CANCELED,
            full.id > earlier.id,
            full.id <= session.id,
        )
        .correlate(earlier)
    )
    return db.session.scalar(
        sa.select(earlier)
        .where(
            earlier.channel_database_id == session.channel_database_id,
            earlier.id < session.id,
            earlier.status.in_(PENDING),
            ~superseded,
        )
        .order_by(earlier.id)
        .limit(1)
    )


def report(session: DownloadSession, status: str, message: str = "") -> DownloadSession:
    """Record that the device downloaded or applied a package, or failed to download or apply it.

    Applied ones go in order. A failure is offered again until the try count is used up
    (`lifecycle.record_failure`).
    """
    previous = session.status
    if status == SESSION_DOWNLOADED:
        # Any later state already says as much: a repeated or late report changes nothing.
        mark_downloaded(session.id)
        db.session.expire(session)
        return session
    if status == SESSION_APPLIED and previous == SESSION_APPLIED:
        return session  # a retried report: the device lost our first answer
    if previous not in OFFERED:
        raise Conflict(
            f"Package {session.id} is {previous}: only an available or downloaded package "
            "can be applied or reported as failed."
        )
    superseded: list[int] = []
    if status == SESSION_APPLIED:
        blocker = first_blocker(session)
        if blocker is not None:
            raise Conflict(
                f"Apply package {blocker.id} (job {blocker.job_number}) first.",
                {"must_apply_first": blocker.id},
            )
    # Any offered status will do: the content endpoint may mark the session downloaded
    # between our read and this write, after a fast device already applied the bytes.
    held = db.session.scalar(
        sa.select(DownloadSession)
        .where(DownloadSession.id == session.id, DownloadSession.status.in_(OFFERED))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if held is None:
        raise Conflict(f"Package {session.id} changed meanwhile; list the packages again.")
    after: dict = {"status": status, "message": message}
    if status in DEVICE_FAILURES:
        ended = lifecycle.record_failure(session, status, message)
        after |= {"status": session.status, "tries": session.failed_tries, "ended": ended}
    else:
        session.status = status
        session.message = message
        session.updated_at = utcnow()
        db.session.flush()
        if session.kind == FULL:
            superseded = _supersede_earlier(session)
    if superseded:
        after["superseded"] = superseded
    audit.record(
        "report", "download_session", str(session.id), before={"status": previous}, after=after
    )
    return session


def _supersede_earlier(full: DownloadSession) -> list[int]:
    """Cancel the earlier pending sessions of the full package's job; returns their ids."""
    reason = f"superseded by full package {full.id}"
    earlier = (
        DownloadSession.channel_database_id == full.channel_database_id,
        DownloadSession.job_number == full.job_number,
        DownloadSession.id < full.id,
    )
    # One still being built counts as done for its run, which otherwise would never finish;
    # its build then finds it no longer requested and leaves it alone.
    unbuilt = db.session.execute(
        sa.update(DownloadSession)
        .where(*earlier, DownloadSession.status == SESSION_REQUESTED)
        .values(status=SESSION_CANCELED, message=reason, updated_at=utcnow())
        .returning(DownloadSession.id, DownloadSession.run_id)
        .execution_options(synchronize_session=False)
    ).all()
    for run_id, count in Counter(run_id for _, run_id in unbuilt).items():
        builds.count_built(run_id, count)
    built = db.session.scalars(
        sa.update(DownloadSession)
        .where(*earlier, DownloadSession.status.in_(PENDING))
        .values(status=SESSION_CANCELED, message=reason, updated_at=utcnow())
        .returning(DownloadSession.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted([session_id for session_id, _ in unbuilt] + list(built))
