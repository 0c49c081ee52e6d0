"""Gaps in a register's sequence numbers: found when a sale arrives, cleared when the rest do.

A register numbers its sales 1, 2, 3, ... with no gaps, so a number HQ never received between two
it did is a lost (or not yet uploaded) sale. Each missing run is one SEQUENCE_GAP anomaly on the
sale right after it, with `detail` {"from", "to"} (the run when found, never changed),
"missing" (at most 100 of the numbers still missing), "missing_count" and "previous" (the
sequence before the run). When later uploads bring every number of the run, the anomaly gets
`cleared_at` and detail "cleared" says so; its review status stays the auditor's.

Arrival order does not matter: a sale arriving inside a known run shrinks that run's anomaly
instead of opening a second one; a sale arriving below the lowest one known opens the gap
between itself and that one, on that one.

Concurrency: ingest holds the stores' rows locked (`transactions.ingest.lock_stores`) from
before the rules run until commit, so batches of one store's registers run these rules one at a
time, each seeing every sale the batches before it committed (READ COMMITTED). SQLite has one
writer anyway.

Limits: numbers below the lowest sequence a register ever sent are not known to be missing
(HQ may have started receiving from that register mid-way), nor are numbers after its latest
one (a lost last sale shows once a later one arrives). A register that restarts its numbering
repeats sequences rather than leaving gaps, which this rule does not report. A run of more
than a few hundred thousand numbers costs its size in memory when a sale inside it arrives.
"""

from datetime import datetime
from functools import cache
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from portal.auditor.models import SEQUENCE_GAP, Anomaly
from portal.core.extensions import db
from portal.core.sql import among_param, is_postgresql
from portal.transactions.models import PosTransaction
from portal.transactions.signals import Arrival

SHOWN = 100


def find(arrivals: list[Arrival], now: datetime) -> list[dict]:
    """Anomaly rows for the gaps the new sales open; updates those they fill (not flushed)."""
    if not arrivals:
        return []
    arrived = _neighbours(arrivals)
    registers = {row.register_id for row in arrived}
    open_gaps = list(db.session.scalars(_open_gaps_query(), {"registers": list(registers)}))
    new_sequences = {(row.register_id, row.sequence) for row in arrived}
    runs: dict[tuple[int, int, int], tuple[_Arrived, int | None, int]] = {}
    touched: dict[int, Anomaly] = {}
    for row in arrived:
        inside = [
            gap
            for gap in open_gaps
            if gap.register_id == row.register_id
            and gap.detail["from"] <= row.sequence <= gap.detail["to"]
        ]
        if inside:
            touched.update((gap.id, gap) for gap in inside)
            continue
        if row.before is not None and row.before < row.sequence - 1:
            runs.setdefault(
                (row.register_id, row.before + 1, row.sequence - 1), (row, row.id, row.before)
            )
        # A run above belongs to the sale after it; when that one is new it finds the run itself.
        after_is_new = (row.register_id, row.after) in new_sequences
        if row.after is not None and row.after > row.sequence + 1 and not after_is_new:
            runs.setdefault(
                (row.register_id, row.sequence + 1, row.after - 1), (row, None, row.sequence)
            )
    _shrink(list(touched.values()), now)
    upper = _ids_at(
        {(register, hi + 1) for (register, _, hi), (_, pk, _) in runs.items() if pk is None}
    )
    rows = []
    for (register, lo, hi), (row, pk, previous) in runs.items():
        pk = pk if pk is not None else upper[(register, hi + 1)]
        rows.append(
            {
                "kind": SEQUENCE_GAP,
                "store_id": row.store_id,
                "register_id": register,
                "pos_transaction_id": pk,
                "message": _message(lo, hi),
                "detail": {
                    "from": lo,
                    "to": hi,
                    "missing": list(range(lo, min(hi, lo + SHOWN - 1) + 1)),
                    "missing_count": hi - lo + 1,
                    "previous": previous,
                },
                "detected_at": now,
            }
        )
    return rows


def _shrink(gaps: list[Anomaly], now: datetime) -> None:
    """Recount what is still missing of each gap a new sale fell into; clear those complete."""
    if not gaps:
        return
    t = PosTransaction
    stored = db.session.execute(
        sa.select(t.register_id, t.sequence)
        .where(
            sa.or_(
                *(
                    sa.and_(
                        t.register_id == gap.register_id,
                        t.sequence.between(gap.detail["from"], gap.detail["to"]),
                    )
                    for gap in gaps
                )
            )
        )
        .distinct()
    )
    by_register: dict[int, set[int]] = {}
    for register, sequence in stored:
        by_register.setdefault(register, set()).add(sequence)
    for gap in gaps:
        lo, hi = gap.detail["from"], gap.detail["to"]
        present = {n for n in by_register.get(gap.register_id, ()) if lo <= n <= hi}
        missing = [n for n in range(lo, hi + 1) if n not in present]
        detail = dict(gap.detail, missing=missing[:SHOWN], missing_count=len(missing))
        if not missing:
            detail["cleared"] = f"Every missing sequence arrived by {now.isoformat()}."
            gap.cleared_at = now
        # A new dict: JSON columns do not notice changes made inside the old one.
        gap.detail = detail


def _ids_at(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The (first) stored sale at each (register, sequence)."""
    if not pairs:
        return {}
    t = PosTransaction
    rows = db.session.execute(
        sa.select(t.register_id, t.sequence, sa.func.min(t.id))
        .where(sa.or_(*(sa.and_(t.register_id == r, t.sequence == n) for r, n in pairs)))
        .group_by(t.register_id, t.sequence)
    )
    return {(register, sequence): pk for register, sequence, pk in rows}


def _message(lo: int, hi: int) -> str:
    if lo == hi:
        return f"Sequence {lo} is missing before {hi + 1}."
    return f"Sequences {lo} to {hi} ({hi - lo + 1}) are missing before {hi + 1}."


class _Arrived(NamedTuple):
    id: int
    register_id: int
    store_id: int
    sequence: int
    before: int | None
    after: int | None


def _neighbours(arrivals: list[Arrival]) -> list[_Arrived]:
    """Each new sale with the register's sequences just below and just above it.

    Within a batch the neighbours are mostly in the batch itself: only the sales at the edges of
    its runs need the database (an index probe each).
    """
    numbers = {(a.register_id, a.sale.sequence) for a in arrivals}
    edges = [
        a.pk
        for a in arrivals
        if (a.register_id, a.sale.sequence - 1) not in numbers
        or (a.register_id, a.sale.sequence + 1) not in numbers
    ]
    probed = {
        pk: (below, above)
        for pk, below, above in db.session.execute(
            _neighbours_query(is_postgresql()), {"edges": edges}
        )
    }
    arrived = []
    for a in sorted(arrivals, key=lambda a: (a.register_id, a.sale.sequence, a.pk)):
        n = a.sale.sequence
        below, above = probed.get(a.pk, (None, None))
        if (a.register_id, n - 1) in numbers:
            below = n - 1
        if (a.register_id, n + 1) in numbers:
            above = n + 1
        arrived.append(_Arrived(a.pk, a.register_id, a.store_id, n, below, above))
    return arrived


# Built once (per dialect): building these selects cost more than running them, every batch.
@cache
def _open_gaps_query() -> sa.Select:
    return sa.select(Anomaly).where(
        Anomaly.kind == SEQUENCE_GAP,
        Anomaly.cleared_at.is_(None),
        Anomaly.register_id.in_(sa.bindparam("registers", expanding=True)),
    )


@cache
def _neighbours_query(on_postgresql: bool) -> sa.Select:
    t = PosTransaction
    other = aliased(PosTransaction)
    before = (
        sa.select(sa.func.max(other.sequence))
        .where(other.register_id == t.register_id, other.sequence < t.sequence)
        .scalar_subquery()
    )
    after = (
        sa.select(sa.func.min(other.sequence))
        .where(other.register_id == t.register_id, other.sequence > t.sequence)
        .scalar_subquery()
    )
    return sa.select(t.id, before, after).where(among_param(t.id, "edges", on_postgresql))
