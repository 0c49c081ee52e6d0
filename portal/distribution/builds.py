"""Building one download session's package: full or incremental, shared when identical."""

import hashlib
import json
import time
from collections import Counter

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, joinedload

from portal.core.extensions import db
from portal.core.metrics import PACKAGE_BUILD_SECONDS, PACKAGE_BYTES
from portal.core.models import utcnow
from portal.core.sql import among
from portal.distribution import signals
from portal.distribution.export import TableExport
from portal.distribution.manifest import manifest
from portal.distribution.models import (
    FULL,
    INCREMENTAL,
    OFFERED_STATUSES,
    RUN_CANCELED,
    RUN_DONE,
    RUN_FAILED,
    RUN_RUNNING,
    SESSION_AVAILABLE,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_NO_DATA,
    SESSION_REQUESTED,
    UPLOAD_FAILED,
    UPLOAD_REQUESTED,
    DataPackage,
    DistributionRun,
    DownloadSession,
    SchedulerJob,
    UploadRequest,
)
from portal.distribution.storage import package_store
from portal.distribution.tables import TABLES, Target
from portal.distribution.targets import tables_for, target_of
from portal.setup.models import ChannelDatabase, Register, Store


def scope_key(tables: tuple[str, ...], target: Target) -> str:
    """A fingerprint of what scopes a target's package; when it changes, a full package follows."""
    params = sorted({p for t in tables for p in TABLES[t].scope_params})
    scope = {"tables": sorted(tables), "params": {p: getattr(target, p) for p in params}}
    return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()


def position(session: DownloadSession) -> int:
    """The version the target's next incremental package after `session` starts from."""
    return max(session.new_version or 0, session.offered_through or 0)


def broken_chains(
    sessions: list[DownloadSession], positions: dict[int, DownloadSession]
) -> set[int]:
    """The sessions whose target had a session of the job canceled since its last offered one.

    A canceled package may never have reached the target, so the next package cannot build on
    it, nor on the last one offered before it: only a full package is safe. Read for a whole
    batch at once, given each session's target's last offered session (`previous_positions`).
    """
    if not sessions:
        return set()
    current = aliased(DownloadSession)
    canceled = DownloadSession
    rows = db.session.execute(
        sa.select(current.id, sa.func.max(canceled.id))
        .join(
            current,
            sa.and_(
                canceled.channel_database_id == current.channel_database_id,
                canceled.job_number == current.job_number,
                canceled.id < current.id,
            ),
        )
        .where(among(current.id, [s.id for s in sessions]), canceled.status == SESSION_CANCELED)
        .group_by(current.id)
    )
    return {
        session_id
        for session_id, last_canceled in rows
        if session_id not in positions or last_canceled > positions[session_id].id
    }


# Sessions per build task: big enough to share lookups, small enough to show steady progress.
BATCH_SIZE = 200


def batches(session_ids: list[int]) -> list[list[int]]:
    """Split a run's sessions into the batches one build task takes each."""
    return [session_ids[i : i + BATCH_SIZE] for i in range(0, len(session_ids), BATCH_SIZE)]


def claim(session_ids: list[int]) -> list[int]:
    """Mark requested sessions as being built now; returns those that still needed it."""
    claimed = db.session.scalars(
        sa.update(DownloadSession)
        .where(among(DownloadSession.id, session_ids), DownloadSession.status == SESSION_REQUESTED)
        .values(updated_at=utcnow(), build_attempts=DownloadSession.build_attempts + 1)
        .returning(DownloadSession.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


def build_session(session_id: int) -> str | None:
    """Build (or reuse) the package of one requested session; returns its new status."""
    return build_sessions([session_id]).get(session_id)


def build_sessions(session_ids: list[int]) -> dict[int, str]:
    """Build (or reuse) the packages of requested sessions and offer them; returns new statuses.

    Safe to run twice or concurrently: the package file is content-addressed, the package row
    is unique per content, and only the first finisher moves a session on from `requested`.
    A batch shares its lookups, so thousands of targets of one run cost little each.
    """
    sessions = (
        db.session.scalars(
            sa.select(DownloadSession)
            .where(
                among(DownloadSession.id, session_ids), DownloadSession.status == SESSION_REQUESTED
            )
            .options(
                joinedload(DownloadSession.run),
                joinedload(DownloadSession.channel_database).options(
                    joinedload(ChannelDatabase.store).joinedload(Store.offline_profile),
                    joinedload(ChannelDatabase.register).joinedload(Register.offline_profile),
                ),
            )
            .order_by(DownloadSession.id)
        )
        .unique()
        .all()
    )
    positions = previous_positions(sessions)
    batch = _Batch(positions, broken_chains(sessions, positions))
    # Sessions that end alike (the same package, kind and versions: most of a run's targets)
    # are moved on by one statement: two per target cost more than the build of a shared package.
    outcomes: dict[tuple, list[DownloadSession]] = {}
    packages: dict[tuple, DataPackage | None] = {}
    quiet: list[DownloadSession] = []
    for session in sessions:
        status, package, fields = _build(session, batch)
        if status == SESSION_NO_DATA:
            quiet.append(session)
            continue
        key = (status, package.id if package else None, tuple(sorted(fields.items())))
        outcomes.setdefault(key, []).append(session)
        packages[key] = package
    for session in _nothing_new(quiet, batch.positions):
        batch.count(session.run_id, SESSION_NO_DATA, None)
        batch.statuses[session.id] = SESSION_NO_DATA
    for key, alike in outcomes.items():
        status, package_id, fields = key
        finished = _finish([s.id for s in alike], status, package_id, dict(fields))
        for session in alike:
            if session.id in finished:
                batch.count(session.run_id, status, packages[key])
                batch.statuses[session.id] = status
                if status == SESSION_CREATE_FAILED:
                    _tell_failed(session, dict(fields)["message"])
    batch.close_runs()
    return batch.statuses


def previous_positions(sessions: list[DownloadSession]) -> dict[int, DownloadSession]:
    """For each session that has one: its target's last session of the job offered before it.

    Read for a whole batch at once; the next incremental package starts from its position.
    """
    if not sessions:
        return {}
    current = aliased(DownloadSession)
    earlier = DownloadSession
    rank = sa.func.row_number().over(
        partition_by=current.id,
        order_by=(
            sa.func.coalesce(earlier.offered_through, earlier.new_version).desc(),
            earlier.id.desc(),
        ),
    )
    ranked = (
        sa.select(current.id.label("for_id"), earlier.id.label("previous_id"), rank.label("rank"))
        .join(
            current,
            sa.and_(
                earlier.channel_database_id == current.channel_database_id,
                earlier.job_number == current.job_number,
                earlier.id < current.id,
            ),
        )
        .where(among(current.id, [s.id for s in sessions]), earlier.status.in_(OFFERED_STATUSES))
        .subquery()
    )
    rows = db.session.execute(
        sa.select(ranked.c.for_id, DownloadSession)
        .join(DownloadSession, DownloadSession.id == ranked.c.previous_id)
        .where(ranked.c.rank == 1)
    )
    return {for_id: previous for for_id, previous in rows}


class _Batch:
    """What a batch of builds shares: jobs, packages by content, and run counters."""

    def __init__(self, positions: dict[int, DownloadSession], broken: set[int]) -> None:
        # Each session's target's last offered session of the job (`previous_positions`).
        self.positions = positions
        # Sessions that must be full, as their target's chain was broken (`broken_chains`).
        self.broken = broken
        self.jobs = {job.job_number: job for job in db.session.scalars(sa.select(SchedulerJob))}
        self.packages: dict[str, DataPackage] = {}
        self.profile_tables: dict = {}
        self.statuses: dict[int, str] = {}
        self.tallies: dict[int, list[int]] = {}

    def count(self, run_id: int, status: str, package: DataPackage | None) -> None:
        done, failed, rows, no_data = self.tallies.setdefault(run_id, [0, 0, 0, 0])
        failed += int(status == SESSION_CREATE_FAILED)
        rows += sum(package.row_counts.values()) if package else 0
        no_data += int(status == SESSION_NO_DATA)
        self.tallies[run_id] = [done + 1, failed, rows, no_data]

    def close_runs(self) -> None:
        """Add the batch's counts to its runs, and close those whose sessions are all built."""
        for run_id, (done, failed, rows, no_data) in self.tallies.items():
            count_built(run_id, done, failed, rows, no_data)


def count_built(run_id: int, done: int, failed: int = 0, rows: int = 0, no_data: int = 0) -> None:
    """Add sessions that left `requested` to their run's counts; close the run after its last."""
    done, failures, total = db.session.execute(
        sa.update(DistributionRun)
        .where(DistributionRun.id == run_id)
        .values(
            sessions_done=DistributionRun.sessions_done + done,
            sessions_failed=DistributionRun.sessions_failed + failed,
            rows_written=DistributionRun.rows_written + rows,
            sessions_no_data=DistributionRun.sessions_no_data + no_data,
        )
        .returning(
            DistributionRun.sessions_done,
            DistributionRun.sessions_failed,
            DistributionRun.sessions_total,
        )
    ).one()
    if done >= total:
        finish_run(run_id, failures)


def _build(session: DownloadSession, batch: _Batch) -> tuple[str, DataPackage | None, dict]:
    """Decide full or incremental, then find or write the package for one session.

    The session row is left alone here, so a slower duplicate build cannot overwrite what the
    first one recorded; `_finish` writes it only if the session is still requested.
    """
    run = session.run
    database = session.channel_database
    job = batch.jobs.get(session.job_number)
    tables = tables_for(database, job, batch.profile_tables) if job is not None else ()
    if not tables:
        return SESSION_CANCELED, None, {"message": "The database no longer receives this job."}
    target = target_of(database)
    key = scope_key(tables, target)
    previous = batch.positions.get(session.id)
    full = (
        run.full_sync
        or previous is None
        or previous.scope_key != key
        or session.id in batch.broken
        or any(TABLES[t].always_full for t in tables)
    )
    fields = {
        "kind": FULL if full else INCREMENTAL,
        "scope_key": key,
        "base_version": 0 if full else position(previous),
        "new_version": run.watermark,
        "message": "",
    }
    content = content_key_of(session.job_number, fields)
    package = batch.packages.get(content)
    if package is None:
        try:
            package = _package_for(content, session.job_number, fields, tables, target)
        except OSError as error:
            return SESSION_CREATE_FAILED, None, fields | {"message": f"Writing failed: {error}"}
        batch.packages[content] = package
    if (not full and not sum(package.row_counts.values())) or (
        full and _same_as_before(run, previous, key, package)
    ):
        return SESSION_NO_DATA, None, fields | {"message": "Nothing changed for this database."}
    return SESSION_AVAILABLE, package, fields


def _same_as_before(run, previous, key: str, package: DataPackage) -> bool:
    """Whether a full package only because its job is always full carries what the last did.

    Setup snapshots (registers, offline profiles) carry no change versions, so every run
    rebuilds them whole; sending an identical copy to every target each run is what a
    no_data session per target used to cost.
    """
    if run.full_sync or previous is None or previous.scope_key != key:
        return False
    before = previous.package
    return (
        before is not None
        and package.content_sha256 is not None
        and before.content_sha256 == package.content_sha256
    )


def content_key_of(job_number: str, fields: dict) -> str:
    """Names a package's content; sessions whose content has the same name share one package."""
    content = {
        "job": job_number,
        "kind": fields["kind"],
        "base": fields["base_version"],
        "upto": fields["new_version"],
        "scope": fields["scope_key"],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def table_exports(
    connection: sa.Connection, tables, target: Target, base: int, upto: int, full: bool
):
    """Each table's CSV exports for a package of the version window, scoped to `target`."""
    return (
        (t, [TableExport(connection, stmt, i == 0) for i, stmt in enumerate(selects)])
        for t in tables
        for selects in [TABLES[t].selects(target, base, upto, full)]
    )


def has_changes(connection: sa.Connection, tables, target: Target, base: int, upto: int) -> bool:
    """Whether an incremental package of the version window would carry a row for `target`.

    Asked of the database in one statement before any file is written: a quiet run (most runs,
    for most targets) then costs a query per scope instead of a package written and deleted.
    """
    found = [
        stmt.order_by(None).exists()
        for t in tables
        for stmt in TABLES[t].selects(target, base, upto, False)
    ]
    return bool(found) and connection.scalar(sa.select(sa.or_(*found)))


def _package_for(content_key: str, job_number: str, fields: dict, tables, target) -> DataPackage:
    kind = fields["kind"]
    full = kind == FULL
    base, upto = fields["base_version"], fields["new_version"]
    connection = db.session.connection()
    if not full and not has_changes(connection, tables, target, base, upto):
        # Nothing new for this scope: no package is offered, so neither a file nor a row.
        return DataPackage(content_key=content_key, kind=kind, row_counts={})
    existing = db.session.scalar(sa.select(DataPackage).filter_by(content_key=content_key))
    if existing is not None and existing.removed_at is None:
        return existing
    contents = manifest(job_number, kind, base, upto, {t: TABLES[t] for t in tables})
    exports = table_exports(connection, tables, target, base, upto, full)
    started = time.perf_counter()
    written = package_store().write(content_key, contents, exports)
    PACKAGE_BUILD_SECONDS.labels(job_number).observe(time.perf_counter() - started)
    PACKAGE_BYTES.labels(job_number).observe(written[1])
    if existing is not None:
        # Retention removed the file; the same content is needed again, so it is written anew.
        (
            existing.path,
            existing.size,
            existing.sha256,
            existing.row_counts,
            existing.content_sha256,
        ) = written
        existing.removed_at = None
        return existing
    path, size, sha256, counts, content = written
    if not full and not sum(counts.values()):
        # The rows `has_changes` saw were changed again past the watermark while the file was
        # written: as above, nothing is offered, so nothing is kept.
        package_store().delete(path)
        return DataPackage(content_key=content_key, kind=kind, row_counts=counts)
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
        content_sha256=content,
    )
    try:
        with db.session.begin_nested():
            db.session.add(package)
    except IntegrityError:
        # Another worker committed the same content first: use its row (the file is identical).
        return db.session.scalar(sa.select(DataPackage).filter_by(content_key=content_key))
    return package


def _finish(session_ids: list[int], status: str, package_id: int | None, fields: dict) -> set[int]:
    """Move the sessions on, unless another worker already did; returns those this build did."""
    claimed = db.session.scalars(
        sa.update(DownloadSession)
        .where(among(DownloadSession.id, session_ids), DownloadSession.status == SESSION_REQUESTED)
        .values(
            status=status,
            package_id=package_id,
            tries=DownloadSession.tries + 1,
            updated_at=utcnow(),
            **fields,
        )
        .returning(DownloadSession.id)
        .execution_options(synchronize_session=False)
    )
    return set(claimed)


def _nothing_new(
    sessions: list[DownloadSession], positions: dict[int, DownloadSession]
) -> list[DownloadSession]:
    """Drop sessions that had nothing new, moving their targets' positions on; returns those
    this build dropped (another worker may have finished some first).

    Keeping a no_data session per target and run is what made history grow without bound: the
    run counts it instead, and the target's last offered session says where it now stands.
    Two statements for the whole batch, as most targets of most runs have nothing new.
    """
    if not sessions:
        return []
    dropped = set(
        db.session.scalars(
            sa.delete(DownloadSession)
            .where(
                among(DownloadSession.id, [s.id for s in sessions]),
                DownloadSession.status == SESSION_REQUESTED,
            )
            .returning(DownloadSession.id)
            .execution_options(synchronize_session=False)
        )
    )
    done = [session for session in sessions if session.id in dropped]
    by_watermark: dict[int, list[int]] = {}
    for session in done:
        by_watermark.setdefault(session.run.watermark, []).append(positions[session.id].id)
    through = sa.func.coalesce(DownloadSession.offered_through, DownloadSession.new_version)
    for watermark, previous_ids in by_watermark.items():
        db.session.execute(
            sa.update(DownloadSession)
            .where(among(DownloadSession.id, previous_ids))
            .values(
                offered_through=sa.case(
                    (through < watermark, watermark), else_=DownloadSession.offered_through
                ),
                # The session itself did not move: its age still counts for the history.
                updated_at=DownloadSession.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
    for session in done:
        db.session.expunge(session)
    return done


def _tell_failed(session: DownloadSession, message: str) -> None:
    signals.session_failed.send(
        None,
        session_id=session.id,
        channel_database_id=session.channel_database_id,
        job_number=session.job_number,
        status=SESSION_CREATE_FAILED,
        message=message,
    )


def give_up(session_ids: list[int], message: str) -> list[int]:
    """Mark requested sessions create_failed, saying why, and count them; returns those marked."""
    failed = db.session.execute(
        sa.update(DownloadSession)
        .where(among(DownloadSession.id, session_ids), DownloadSession.status == SESSION_REQUESTED)
        .values(status=SESSION_CREATE_FAILED, message=message, updated_at=utcnow())
        .returning(
            DownloadSession.id,
            DownloadSession.run_id,
            DownloadSession.channel_database_id,
            DownloadSession.job_number,
        )
        .execution_options(synchronize_session=False)
    ).all()
    for run_id, count in Counter(row.run_id for row in failed).items():
        count_built(run_id, count, count)
    for row in failed:
        signals.session_failed.send(
            None,
            session_id=row.id,
            channel_database_id=row.channel_database_id,
            job_number=row.job_number,
            status=SESSION_CREATE_FAILED,
            message=message,
        )
    return sorted(row.id for row in failed)


def close_forgotten_runs() -> list[int]:
    """Close running runs with no session left requested; returns them.

    Every way a session leaves `requested` counts it and closes its run in the same transaction,
    so this finds nothing unless that bookkeeping was lost; the counts are taken afresh.
    """
    requested = (
        sa.select(DownloadSession.id)
        .where(
            DownloadSession.run_id == DistributionRun.id,
            DownloadSession.status == SESSION_REQUESTED,
        )
        .exists()
    )
    uploading = (
        sa.select(UploadRequest.id)
        .where(UploadRequest.run_id == DistributionRun.id, UploadRequest.status == UPLOAD_REQUESTED)
        .exists()
    )
    forgotten = list(
        db.session.scalars(
            sa.select(DistributionRun.id)
            .where(DistributionRun.status == RUN_RUNNING, ~requested, ~uploading)
            .order_by(DistributionRun.id)
            .with_for_update(skip_locked=True)
        )
    )
    for run_id in forgotten:
        total, failed = db.session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(DownloadSession.status == SESSION_CREATE_FAILED),
            ).where(DownloadSession.run_id == run_id)
        ).one()
        asked, not_uploaded = db.session.execute(
            sa.select(
                sa.func.count(), sa.func.count().filter(UploadRequest.status == UPLOAD_FAILED)
            ).where(UploadRequest.run_id == run_id)
        ).one()
        total, failed = total + asked, failed + not_uploaded
        db.session.execute(
            sa.update(DistributionRun)
            .where(DistributionRun.id == run_id)
            # Targets with nothing new left no session behind: the run's own count keeps them.
            .values(
                sessions_total=total + DistributionRun.sessions_no_data,
                sessions_done=total + DistributionRun.sessions_no_data,
                sessions_failed=failed,
            )
            .execution_options(synchronize_session=False)
        )
        finish_run(run_id, failed)
    return forgotten


def finish_run(run_id: int, failures: int) -> None:
    """Close a run whose sessions are all built; a failed one is told to the listeners.

    A run a scheduler canceled stays canceled: what it still waited for finishes it no more.
    """
    message = _failure_message(run_id, failures) if failures else ""
    closed = db.session.execute(
        sa.update(DistributionRun)
        .where(DistributionRun.id == run_id, DistributionRun.status != RUN_CANCELED)
        .values(
            status=RUN_FAILED if failures else RUN_DONE,
            finished_at=utcnow(),
            message=message,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not closed:
        return
    if failures:
        signals.run_failed.send(None, run_id=run_id, message=message)
    else:
        mark_canceled_runs([run_id])


def mark_canceled_runs(run_ids: list[int]) -> None:
    """Show as canceled the finished runs among these whose every session kept was canceled."""
    kept = sa.select(DownloadSession.id).where(DownloadSession.run_id == DistributionRun.id)
    db.session.execute(
        sa.update(DistributionRun)
        .where(
            DistributionRun.id.in_(run_ids),
            DistributionRun.status.in_((RUN_DONE, RUN_FAILED)),
            kept.exists(),
            ~kept.where(DownloadSession.status != SESSION_CANCELED).exists(),
        )
        .values(status=RUN_CANCELED)
        .execution_options(synchronize_session=False)
    )


def _failure_message(run_id: int, failures: int) -> str:
    not_uploaded = db.session.scalar(
        sa.select(sa.func.count()).where(
            UploadRequest.run_id == run_id, UploadRequest.status == UPLOAD_FAILED
        )
    )
    parts = []
    if failures > not_uploaded:
        parts.append(f"{failures - not_uploaded} package(s) could not be built.")
    if not_uploaded:
        parts.append(f"{not_uploaded} database(s) did not upload after being asked.")
    return " ".join(parts)
