"""Which shift statements an auditor asks for: one filter for the API, the page and the CSV."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.search import search
from portal.setup.models import Register, Store
from portal.transactions import models as tx
from portal.transactions.models import ShiftStatement

# Worst first: what is missing, then what differs, then a broken chain.
PLACES = Decimal("0.0001")
SEVERITY = {state: rank for rank, state in enumerate(tx.STATEMENT_STATES)}


def statements_query(filters: dict) -> sa.Select:
    """Select statements, latest closed first by (closed_at, id).

    `filters` keys, all optional; a missing key or a None / "" value does not filter:
    "store" and "register" (numbers), "state" (one of STATEMENT_STATES), "date_from" and
    "date_to" (the shift's business day, both included), "q" (text the shift id contains).
    """
    s = ShiftStatement
    stmt = search(sa.select(s), filters.get("q"), s.shift_id)
    if filters.get("store"):
        stmt = stmt.where(
            s.store_id.in_(sa.select(Store.id).where(Store.store_number == filters["store"]))
        )
    if filters.get("register"):
        stmt = stmt.where(
            s.register_id.in_(
                sa.select(Register.id).where(Register.register_number == filters["register"])
            )
        )
    if filters.get("state"):
        stmt = stmt.where(s.state == filters["state"])
    if filters.get("date_from"):
        stmt = stmt.where(s.business_day >= filters["date_from"])
    if filters.get("date_to"):
        stmt = stmt.where(s.business_day <= filters["date_to"])
    return stmt.order_by(s.closed_at.desc(), s.id.desc())


@dataclass
class StoreDay:
    """One store's shifts of one day, and how far they are from reconciled."""

    store: Store
    day: date
    shifts: int
    problems: int
    unaccounted: Decimal
    missing: int
    statements: list[ShiftStatement]


def store_days_query(filters: dict) -> sa.Select:
    """(store id, day, shifts, problems, unaccounted, missing) per store and day, worst first."""
    matching = statements_query(filters).order_by(None).subquery()
    problems = sa.func.sum(sa.case((matching.c.state != tx.STATEMENT_RECONCILED, 1), else_=0))
    unaccounted = sa.func.sum(sa.func.abs(matching.c.unaccounted))
    return (
        sa.select(
            matching.c.store_id,
            matching.c.business_day,
            sa.func.count().label("shifts"),
            problems.label("problems"),
            unaccounted.label("unaccounted"),
            sa.func.sum(matching.c.missing_count).label("missing"),
        )
        .group_by(matching.c.store_id, matching.c.business_day)
        .order_by(
            problems.desc(),
            unaccounted.desc(),
            matching.c.business_day.desc(),
            matching.c.store_id,
        )
    )


def store_days(rows, filters: dict) -> list[StoreDay]:
    """The page's store days with their statements, each day's worst shift first."""
    if not rows:
        return []
    s = ShiftStatement
    wanted = sa.tuple_(s.store_id, s.business_day).in_([(r[0], r[1]) for r in rows])
    stmt = statements_query(filters).where(wanted)
    by_day: dict[tuple, list[ShiftStatement]] = {}
    for statement in db.session.scalars(stmt):
        by_day.setdefault((statement.store_id, statement.business_day), []).append(statement)
    stores = {
        store.id: store
        for store in db.session.scalars(sa.select(Store).where(Store.id.in_({r[0] for r in rows})))
    }
    days = []
    for store_id, day, shifts, problems, unaccounted, missing in rows:
        found = sorted(
            by_day.get((store_id, day), []),
            key=lambda st: (SEVERITY[st.state], -abs(st.unaccounted), st.closed_at),
        )
        days.append(
            StoreDay(
                stores[store_id],
                day,
                shifts,
                problems or 0,
                # SQLite sums NUMERIC as a float: back to the column's four places.
                Decimal(str(unaccounted or 0)).quantize(PLACES),
                missing or 0,
                found,
            )
        )
    return days
