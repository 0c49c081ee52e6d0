"""The upload job (P-0001): a run asks its target databases to upload their sales now.

A device learns of the request from the answer to its heartbeat (`upload_requested`); the
request is done once a heartbeat after it reports no sale waiting, and fails once the device
was asked the try count of times and still reported sales waiting, or once it has sent no
heartbeat for the try count of its health-check intervals (beat's tick looks every minute).
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import builds, parameters
from portal.distribution.models import (
    UPLOAD_CANCELED,
    UPLOAD_DONE,
    UPLOAD_FAILED,
    UPLOAD_REQUESTED,
    UPLOAD_STATUSES,
    DistributionRun,
    UploadRequest,
)
from portal.distribution.targets import target_databases
from portal.masterdata.jobs import UPLOAD
from portal.setup.models import (
    HEALTH_CHECK_INTERVAL_MIN,
    ChannelDatabase,
    OfflineProfile,
    Register,
    Store,
)


def has_upload_job(run: DistributionRun) -> bool:
    """Whether the run's schedule carries an upload job (P-0001)."""
    return any(job.direction == UPLOAD for job in run.schedule.jobs)


def plan(run: DistributionRun) -> int:
    """Ask each target database of an upload run to upload now; returns how many were asked.

    A forced full package for one database asks for no upload: it is about what HQ sends.
    """
    if run.channel_database is not None or not has_upload_job(run):
        return 0
    databases = target_databases(run.schedule)
    now = utcnow()
    db.session.add_all(
        UploadRequest(run=run, channel_database=database, requested_at=now)
        for database in databases
    )
    return len(databases)


def is_open(database_id: int | sa.BindParameter) -> sa.Exists:
    """Whether the database has an upload request waiting for it: one read of an index."""
    return sa.exists().where(
        UploadRequest.channel_database_id == database_id,
        UploadRequest.status == UPLOAD_REQUESTED,
    )


def answer_heartbeat(database_id: int, pending_uploads: int | None) -> bool:
    """Move the database's open upload requests on from a heartbeat; True while one is open.

    True tells the device to upload now (and to report again once it has). A heartbeat that
    does not say what waits (None) moves nothing on.
    """
    requests = db.session.scalars(
        sa.select(UploadRequest)
        .where(
            UploadRequest.channel_database_id == database_id,
            UploadRequest.status == UPLOAD_REQUESTED,
        )
        .order_by(UploadRequest.id)
        .with_for_update()
    ).all()
    now = utcnow()
    for request in requests:
        request.last_heard_at = now
    if pending_uploads is None:
        db.session.flush()
        return bool(requests)
    still_open = False
    for request in requests:
        if request.pending_reported is None:
            request.pending_reported = pending_uploads
        if not pending_uploads:
            _finish(request, UPLOAD_DONE, f"Uploaded {request.sent} sale(s); none left waiting.")
        elif request.tries >= parameters.current("try_count"):
            _finish(
                request,
                UPLOAD_FAILED,
                f"Still {pending_uploads} sale(s) waiting after {request.tries} request(s).",
            )
        else:
            request.tries += 1
            still_open = True
    db.session.flush()
    return still_open


def fail_silent() -> int:
    """Fail the open requests of databases whose device sent no heartbeat for the try count of
    its health-check intervals since the request (or its last heartbeat); returns how many.

    A device that answers is asked that many times before its request fails; one that does not
    answer gets as long. The interval is the database's offline profile's (its register's own,
    else its store's default), or the usual 5 minutes where none says.
    """
    now = utcnow()
    try_count = parameters.current("try_count")
    own, stores = aliased(OfflineProfile), aliased(OfflineProfile)
    interval = sa.func.coalesce(
        own.health_check_interval_min,
        stores.health_check_interval_min,
        HEALTH_CHECK_INTERVAL_MIN,
    )
    silent_since = sa.func.coalesce(UploadRequest.last_heard_at, UploadRequest.requested_at)
    # Only those silent for the shortest window any profile allows: the rest are answering.
    candidates = db.session.execute(
        sa.select(UploadRequest, interval)
        .join(ChannelDatabase, ChannelDatabase.id == UploadRequest.channel_database_id)
        .join(Store, Store.id == ChannelDatabase.store_id)
        .outerjoin(Register, Register.id == ChannelDatabase.register_id)
        .outerjoin(own, own.id == Register.offline_profile_id)
        .outerjoin(stores, stores.id == Store.offline_profile_id)
        .where(
            UploadRequest.status == UPLOAD_REQUESTED,
            silent_since <= now - timedelta(minutes=try_count),
        )
        .order_by(UploadRequest.id)
        .with_for_update(of=UploadRequest)
    ).all()
    failed = 0
    for request, minutes in candidates:
        since = request.last_heard_at or request.requested_at
        if now - since < timedelta(minutes=try_count * minutes):
            continue
        _finish(
            request,
            UPLOAD_FAILED,
            f"No heartbeat since {since:%Y-%m-%d %H:%M} UTC: {try_count} health-check "
            f"interval(s) of {minutes} min passed.",
        )
        failed += 1
    return failed


def cancel_open(where: sa.ColumnElement[bool], message: str) -> int:
    """Cancel the open upload requests `where` says (of a run, of a database); how many.

    Each counts as finished on its run, not failed: nobody waits for it any more.
    """
    canceled = db.session.scalars(
        sa.update(UploadRequest)
        .where(where, UploadRequest.status == UPLOAD_REQUESTED)
        .values(status=UPLOAD_CANCELED, message=message, finished_at=utcnow())
        .returning(UploadRequest.run_id)
        .execution_options(synchronize_session=False)
    ).all()
    for run_id, count in sorted(Counter(canceled).items()):
        builds.count_built(run_id, count)
    return len(canceled)


def count_sent(database_id: int, sales: int) -> None:
    """Add sales the database just uploaded to its open upload requests."""
    if sales:
        db.session.execute(
            sa.update(UploadRequest)
            .where(
                UploadRequest.channel_database_id == database_id,
                UploadRequest.status == UPLOAD_REQUESTED,
            )
            .values(sent=UploadRequest.sent + sales)
            .execution_options(synchronize_session=False)
        )


def _finish(request: UploadRequest, status: str, message: str) -> None:
    request.status = status
    request.message = message
    request.finished_at = utcnow()
    db.session.flush()
    builds.count_built(request.run_id, 1, int(status == UPLOAD_FAILED))


@dataclass(frozen=True)
class StoreUploads:
    """A store's databases in an upload run that have not uploaded yet."""

    store_number: str
    name: str
    waiting: int
    failed: int


@dataclass(frozen=True)
class RunUploads:
    """Where an upload run stands: its requests per status, and the stores not done yet."""

    counts: dict[str, int]
    stores: list[StoreUploads]
    stores_total: int


def run_uploads(run: DistributionRun, limit: int = 100) -> RunUploads:
    """Counts of the run's upload requests and the first stores (by number) not uploaded yet."""
    counts = dict.fromkeys(UPLOAD_STATUSES, 0)
    counts.update(
        db.session.execute(
            sa.select(UploadRequest.status, sa.func.count())
            .where(UploadRequest.run_id == run.id)
            .group_by(UploadRequest.status)
        ).all()
    )
    not_done = (
        sa.select(
            Store.store_number,
            Store.name,
            sa.func.count().filter(UploadRequest.status == UPLOAD_REQUESTED).label("waiting"),
            sa.func.count().filter(UploadRequest.status == UPLOAD_FAILED).label("failed"),
        )
        .join(ChannelDatabase, ChannelDatabase.id == UploadRequest.channel_database_id)
        .join(Store, Store.id == ChannelDatabase.store_id)
        .where(UploadRequest.run_id == run.id, UploadRequest.status != UPLOAD_DONE)
        .group_by(Store.store_number, Store.name)
    )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(not_done.subquery()))
    rows = db.session.execute(not_done.order_by(Store.store_number).limit(limit)).all()
    return RunUploads(counts, [StoreUploads(*row) for row in rows], total or 0)
