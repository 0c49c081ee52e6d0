"""A channel database's distribution history: runs and sessions that are kept, never deleted."""

import sqlalchemy as sa
from flask import Flask

from portal.core.errors import Conflict
from portal.core.extensions import db
from portal.distribution.models import DistributionRun, DownloadSession
from portal.setup.models import ChannelDatabase, Store
from portal.setup.signals import store_deleting


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
