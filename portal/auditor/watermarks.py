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
        self._databases: dict[tuple[bool, int], int] = {}
        self._history: dict[tuple[int, str], tuple[list[datetime], list[int]]] = {}
        if not arrivals:
            return
        registers = {a.register_id for a in arrivals if a.sale.offline}
        stores = {a.store_id for a in arrivals if not a.sale.offline}
        rows = db.session.execute(
            sa.select(
                ChannelDatabase.id, ChannelDatabase.register_id, ChannelDatabase.store_id
            ).where(
                sa.or_(
                    sa.and_(
                        ChannelDatabase.kind == OFFLINE, ChannelDatabase.register_id.in_(registers)
                    ),
                    sa.and_(ChannelDatabase.kind == CHANNEL, ChannelDatabase.store_id.in_(stores)),
                )
            )
        )
        for database, register, store in rows:
            key = (True, register) if register is not None else (False, store)
            self._databases[key] = database
        if not self._databases:
            return
        latest = max(a.sale.created_at for a in arrivals)
        sessions = db.session.execute(
            sa.select(
                DownloadSession.channel_database_id,
                DownloadSession.job_number,
                DownloadSession.updated_at,
                DownloadSession.new_version,
            )
            .where(
                DownloadSession.channel_database_id.in_(set(self._databases.values())),
                DownloadSession.job_number.in_(set(jobs)),
                DownloadSession.status == SESSION_APPLIED,
                DownloadSession.new_version.is_not(None),
                DownloadSession.updated_at <= latest,
            )
            .order_by(DownloadSession.updated_at)
        )
        for database, job, at, version in sessions:
            times, versions = self._history.setdefault((database, job), ([], []))
            times.append(at)
            versions.append(max(version, versions[-1]) if versions else version)

    def at(self, arrival: Arrival, job: str) -> int | None:
        """The job's watermark of the database the sale was made on, when it was made."""
        sale = arrival.sale
        key = (True, arrival.register_id) if sale.offline else (False, arrival.store_id)
        database = self._databases.get(key)
        times, versions = self._history.get((database, job), ([], []))
        index = bisect_right(times, sale.created_at)
        return versions[index - 1] if index else None
