"""Building one download session's package: full or incremental, shared when identical."""

import hashlib
import json
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal.core.models import utcnow
from portal.distribution.export import TableExport
from portal.distribution.models import (
    FULL,
    INCREMENTAL,
    OFFERED_STATUSES,
    RUN_DONE,
    RUN_FAILED,
    SESSION_AVAILABLE,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_NO_DATA,
    SESSION_REQUESTED,
    DataPackage,
    DistributionRun,
    DownloadSession,
    SchedulerJob,
)
from portal.distribution.package_files import write_package
from portal.distribution.tables import TABLES, Target
from portal.distribution.targets import tables_for, target_of
from portal.extensions import db


def scope_key(tables: tuple[str, ...], target: Target) -> str:
    """A fingerprint of what scopes a target's package; when it changes, a full package follows."""
    params = sorted({p for t in tables for p in TABLES[t].scope_params})
    scope = {"tables": sorted(tables), "params": {p: getattr(target, p) for p in params}}
    return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()


def previous_position(session: DownloadSession) -> DownloadSession | None:
    """The target's last session of this job that was offered to it before this one."""
    return db.session.scalar(
        sa.select(DownloadSession)
        .where(
            DownloadSession.channel_database_id == session.channel_database_id,
            DownloadSession.job_number == session.job_number,
            DownloadSession.status.in_(OFFERED_STATUSES),
            DownloadSession.id < session.id,
        )
        .order_by(DownloadSession.new_version.desc(), DownloadSession.id.desc())
        .limit(1)
    )


def claim(session_id: int) -> bool:
    """Mark a requested session as being built now; False if it no longer needs a build."""
    touched = db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.id == session_id, DownloadSession.status == SESSION_REQUESTED)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(touched)


def build_session(session_id: int) -> str | None:
    """Build (or reuse) the package of a requested session and offer it; returns its status.

    Safe to run twice or concurrently: the package file is content-addressed, the package row
    is unique per content, and only the first finisher moves the session on from `requested`.
    """
    session = db.session.get(DownloadSession, session_id)
    if session is None or session.status != SESSION_REQUESTED:
        return None
    run = session.run
    database = session.channel_database
    job = db.session.scalar(sa.select(SchedulerJob).filter_by(job_number=session.job_number))
    tables = tables_for(database, job) if job is not None else ()
    if not tables:
        return _finish(session, SESSION_CANCELED, None, "The database no longer receives this job.")
    target = target_of(database)
    key = scope_key(tables, target)
    previous = previous_position(session)
    full = run.full_sync or previous is None or previous.scope_key != key
    base = 0 if full else previous.new_version
    upto = run.watermark
    try:
        package = _package_for(session.job_number, tables, target, key, full, base, upto)
    except OSError as error:
        return _finish(session, SESSION_CREATE_FAILED, None, f"Writing the package failed: {error}")
    status = SESSION_NO_DATA if not full and not sum(package.row_counts.values()) else None
    session.kind = FULL if full else INCREMENTAL
    session.scope_key = key
    session.base_version = base
    session.new_version = upto
    if status == SESSION_NO_DATA:
        return _finish(session, SESSION_NO_DATA, None, "Nothing changed for this database.")
    return _finish(session, SESSION_AVAILABLE, package, "")


def _package_for(job_number, tables, target, key, full, base, upto) -> DataPackage:
    kind = FULL if full else INCREMENTAL
    content = {"job": job_number, "kind": kind, "base": base, "upto": upto, "scope": key}
    content_key = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    existing = db.session.scalar(sa.select(DataPackage).filter_by(content_key=content_key))
    if existing is not None and existing.removed_at is None:
        return existing
    store = Path(current_app.config["PACKAGE_STORE"])
    connection = db.session.connection()
    manifest = {
        "job": job_number,
        "kind": kind,
        "base_version": base,
        "new_version": upto,
        "tables": {
            t: {"key": list(TABLES[t].key), "columns": [c.key for c in TABLES[t].columns]}
            for t in tables
        },
    }
    exports = (
        (t, [TableExport(connection, stmt, i == 0) for i, stmt in enumerate(selects)])
        for t in tables
        for selects in [TABLES[t].selects(target, base, upto, full)]
    )
    written = write_package(store, content_key, manifest, exports)
    if existing is not None:
        # Retention removed the file; the same content is needed again, so it is written anew.
        existing.path, existing.size, existing.sha256, existing.row_counts = written
        existing.removed_at = None
        return existing
    path, size, sha256, counts = written
    package = DataPackage(
        content_key=content_key,
        job_number=job_number,
        kind=kind,
        base_version=base,
        new_version=upto,
        path=path,
        size=size,
        sha256=sha256,
        row_counts=counts,
    )
    try:
        with db.session.begin_nested():
            db.session.add(package)
    except IntegrityError:
        # Another worker committed the same content first: use its row (the file is identical).
        return db.session.scalar(sa.select(DataPackage).filter_by(content_key=content_key))
    return package


def _finish(session, status, package, message) -> str | None:
    claimed = db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.id == session.id, DownloadSession.status == SESSION_REQUESTED)
        .values(
            status=status,
            package_id=package.id if package else None,
            message=message,
            kind=session.kind,
            scope_key=session.scope_key,
            base_version=session.base_version,
            new_version=session.new_version,
            tries=DownloadSession.tries + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(session)
    if not claimed:
        return None
    failed = int(status == SESSION_CREATE_FAILED)
    rows = sum(package.row_counts.values()) if package else 0
    done, failures, total = db.session.execute(
        sa.update(DistributionRun)
        .where(DistributionRun.id == session.run_id)
        .values(
            sessions_done=DistributionRun.sessions_done + 1,
            sessions_failed=DistributionRun.sessions_failed + failed,
            rows_written=DistributionRun.rows_written + rows,
        )
        .returning(
            DistributionRun.sessions_done,
            DistributionRun.sessions_failed,
            DistributionRun.sessions_total,
        )
    ).one()
    if done >= total:
        finish_run(session.run_id, failures)
    return status


def finish_run(run_id: int, failures: int) -> None:
    """Close a run whose sessions are all built."""
    db.session.execute(
        sa.update(DistributionRun)
        .where(DistributionRun.id == run_id)
        .values(
            status=RUN_FAILED if failures else RUN_DONE,
            finished_at=utcnow(),
            message=f"{failures} package(s) could not be built." if failures else "",
        )
        .execution_options(synchronize_session=False)
    )
