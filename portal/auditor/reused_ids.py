"""Transaction ids that more than one register used: each register's sale is its own.

A sale is identified by its register and its id, so a sale under an id another register used
before is stored as a sale of its own and accepted like any other: the device that sent it
learns nothing of the other register's sale, which is neither read for it, nor flagged, nor
changed. This rule flags the later sale only (REUSED_TRANSACTION_ID), with detail "other_sales":
the earlier ones' row ids, which auditors open at HQ (`/api/v1/transactions/<id>`).

Concurrency: two batches of different stores hold no lock in common, so on PostgreSQL each takes
an advisory lock per id it stored, in one order, until commit: the second of two batches storing
one id at once then sees the first one's sale (READ COMMITTED) and only it is flagged. SQLite
has one writer anyway.
"""

from datetime import datetime
from functools import cache

import sqlalchemy as sa

from portal.auditor.findings import finding
from portal.auditor.models import REUSED_TRANSACTION_ID
from portal.core.extensions import db
from portal.core.sql import among_param, is_postgresql, unnested
from portal.transactions.models import PosTransaction
from portal.transactions.signals import Arrival

# The first key of this rule's advisory locks (the two-key form), apart from any other lock's.
LOCK_SPACE = 0x7E5E
SHOWN = 20


def find(arrivals: list[Arrival], now: datetime) -> list[dict]:
    """An anomaly for each new sale whose id another register's sale had before it."""
    if not arrivals:
        return []
    ids = {a.sale.transaction_id for a in arrivals}
    if is_postgresql():
        _lock(ids)
    users: dict[str, list[int]] = {}
    for tid, pk in db.session.execute(_users_query(is_postgresql()), {"ids": list(ids)}):
        users.setdefault(tid, []).append(pk)
    found, batch = [], {a.pk for a in arrivals}
    for arrival in arrivals:
        # A register has one sale per id, so every other sale under it is another register's.
        # Another batch's was committed first (the lock orders them) whatever its row id; within
        # the batch the first stored keeps the id.
        earlier = [
            pk
            for pk in users.get(arrival.sale.transaction_id, ())
            if pk != arrival.pk and (pk not in batch or pk < arrival.pk)
        ]
        if earlier:
            found.append(
                finding(
                    REUSED_TRANSACTION_ID,
                    arrival,
                    "This transaction id was already used by another register.",
                    {"other_sales": earlier[:SHOWN]},
                    now,
                )
            )
    return found


def _lock(ids: set[str]) -> None:
    """Hold an advisory lock per id until commit, taken in key order so batches never deadlock.

    A UUID's first 32 bits are random enough to key it; two ids sharing a key only wait longer.
    """
    keys = sorted({int(tid[:8], 16) - (1 << 31) for tid in ids})
    db.session.execute(_lock_query(), {"key_values": keys})


# Built once (per dialect): building these selects cost about what running them does.
@cache
def _users_query(on_postgresql: bool) -> sa.Select:
    t = PosTransaction
    # An id only one sale has is the new sale's own: only ids more than one sale used come back
    # (none, in a normal batch).
    users = sa.func.count().over(partition_by=t.transaction_id)
    found = (
        sa.select(t.transaction_id, t.id, users.label("users"))
        .where(among_param(t.transaction_id, "ids", on_postgresql))
        .subquery()
    )
    return (
        sa.select(found.c.transaction_id, found.c.id).where(found.c.users > 1).order_by(found.c.id)
    )


@cache
def _lock_query() -> sa.Select:
    # No ORDER BY: the locks are taken as unnest yields the keys, in the array's order.
    wanted = unnested(key=((), sa.Integer))
    return sa.select(sa.func.pg_advisory_xact_lock(LOCK_SPACE, wanted.c.key))
