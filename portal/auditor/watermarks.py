"""How far a register's master data had come when it made a sale: its package watermarks.

A database's watermark for a job at a moment is the highest change version of that job's
packages it had applied by then (download sessions with status applied; their last update is
when the device reported it). A master data row whose `row_version` is above it had not reached
the register. An offline sale used the register's offline database, an online one its store's.
With no package of the job applied by then (e.g. data loaded before distribution was set up)
there is no watermark, and the rules compare with HQ's data as it is.
"""

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from functools import cache

import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution.models import SESSION_APPLIED, DownloadSession
from portal.setup.models import CHANNEL, OFFLINE, ChannelDatabase
from portal.transactions.signals import Arrival

PRICES_JOB = "1020"
PRODUCTS_JOB = "1040"
TAX_JOB = "1080"


class Watermarks:
    """The watermarks of the databases a batch's sales were made on, for some jobs."""

    def __init__(self, arrivals: list[Arrival], jobs: Iterable[str]) -> None:
        # By (database, job): when each applied package was reported, and the watermark then.
        # A database is (True, register id) for a register's offline one, (False, store id)
        # for its store's.
        self._history: dict[tuple[tuple[bool, int], str], tuple[list[datetime], list[int]]] = {}
        if not arrivals:
            return
        registers = {a.register_id for a in arrivals if a.sale.offline}
        stores = {a.store_id for a in arrivals if not a.sale.offline}
        sessions = db.session.execute(
            _sessions_query(),
            {
                "registers": list(registers),
                "stores": list(stores),
                "jobs": list(jobs),
                "latest": max(a.sale.created_at for a in arrivals),
            },
        )
        for register, store, job, at, version in sessions:
            key = (True, register) if register is not None else (False, store)
            times, versions = self._history.setdefault((key, job), ([], []))
            times.append(at)
            versions.append(max(version, versions[-1]) if versions else version)

    def at(self, arrival: Arrival, job: str) -> int | None:
        """The job's watermark of the database the sale was made on, when it was made."""
        if not self._history:  # no package applied: HQ's data counts as it is
            return None
        sale = arrival.sale
        key = (True, arrival.register_id) if sale.offline else (False, arrival.store_id)
        times, versions = self._history.get((key, job), ([], []))
        index = bisect_right(times, sale.created_at)
        return versions[index - 1] if index else None


@cache
def _sessions_query() -> sa.Select:
    # Built once: building this select cost more than running it, on every batch.
    database, session = ChannelDatabase, DownloadSession
    return (
        sa.select(
            database.register_id,
            database.store_id,
            session.job_number,
            session.updated_at,
            session.new_version,
        )
        .join(database, database.id == session.channel_database_id)
        .where(
            sa.or_(
                sa.and_(
                    database.kind == OFFLINE,
                    database.register_id.in_(sa.bindparam("registers", expanding=True)),
                ),
                sa.and_(
                    database.kind == CHANNEL,
                    database.store_id.in_(sa.bindparam("stores", expanding=True)),
                ),
            ),
            session.job_number.in_(sa.bindparam("jobs", expanding=True)),
            session.status == SESSION_APPLIED,
            session.new_version.is_not(None),
            session.updated_at <= sa.bindparam("latest", type_=session.updated_at.type),
        )
        .order_by(session.updated_at)
    )
