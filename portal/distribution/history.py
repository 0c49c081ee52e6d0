"""A channel database's distribution history: runs are kept, sessions for a bounded time.

Runs keep their counts for ever. A download session that was applied or ended is deleted once
it is older than the `session_history_days` parameter, except each database's latest session of
each job and the one its next incremental package starts from, so the table stays near one row
per database and job however long the chain runs.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import aliased

from portal.core.errors import Conflict
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution.models import (
    OFFERED_STATUSES,
    SESSION_APPLIED,
    SESSION_APPLY_FAILED,
    SESSION_CANCELED,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_NO_DATA,
    DistributionRun,
    DownloadSession,
)
from portal.setup.models import ChannelDatabase, Store
from portal.setup.signals import store_deleting

# A session in any other state is still on its way to the target.
ENDED = (
    SESSION_APPLIED,
    SESSION_NO_DATA,
    SESSION_CREATE_FAILED,
    SESSION_DOWNLOAD_FAILED,
    SESSION_APPLY_FAILED,
    SESSION_CANCELED,
)
# Deleted per statement, so a backlog of millions never sits in one transaction's locks.
PRUNE_CHUNK = 10_000


def init_app(app: Flask) -> None:
    """Keep setup from deleting a store whose channel database received distributions."""
    store_deleting.connect(refuse_store_with_history)


def refuse_store_with_history(
    sender, *, store: Store, database: ChannelDatabase | None, **_
) -> None:
    """Conflict if the store's channel database has distribution runs or sessions."""
    if database is not None and has_history(database):
        raise Conflict(
            f"Store '{store.store_number}' has received distributions; its history is kept, "
            "so the store cannot be deleted. Move its channel database out of every group instead."
        )


def has_history(database: ChannelDatabase) -> bool:
    """Whether a run or a download session names the database."""
    sessions = sa.select(DownloadSession.id).filter_by(channel_database_id=database.id)
    runs = sa.select(DistributionRun.id).filter_by(channel_database_id=database.id)
    return db.session.scalar(sa.select(sa.or_(sa.exists(sessions), sa.exists(runs))))


def prunable(older_than: timedelta, now: datetime | None = None) -> sa.Select:
    """Ids of the sessions the history no longer needs, oldest first."""
    cutoff = (now or utcnow()) - older_than
    later = aliased(DownloadSession)
    same_target = sa.and_(
        later.channel_database_id == DownloadSession.channel_database_id,
        later.job_number == DownloadSession.job_number,
        later.id > DownloadSession.id,
    )
    # Not the target's latest session of the job, and not its position (the latest offered).
    superseded = sa.exists().where(same_target)
    offered_later = sa.exists().where(same_target, later.status.in_(OFFERED_STATUSES))
    return (
        sa.select(DownloadSession.id)
        .where(
            DownloadSession.status.in_(ENDED),
            DownloadSession.updated_at < cutoff,
            superseded,
            sa.or_(DownloadSession.status.not_in(OFFERED_STATUSES), offered_later),
        )
        .order_by(DownloadSession.id)
    )


def prune_sessions(older_than: timedelta, now: datetime | None = None) -> int:
    """Delete the sessions older than `older_than` that the history no longer needs; count."""
    removed, after = 0, 0
    while True:
        # On from the last chunk's end, so a backlog of millions is read once, not per chunk.
        chunk = prunable(older_than, now).where(DownloadSession.id > after).limit(PRUNE_CHUNK)
        ids = list(db.session.scalars(chunk))
        if not ids:
            return removed
        after = ids[-1]
        db.session.execute(
            sa.delete(DownloadSession)
            .where(DownloadSession.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        removed += len(ids)
        if len(ids) < PRUNE_CHUNK:
            return removed
