"""Registers that sold but closed no shift: a statement HQ should have by now and does not.

A register that sends shift statements covers every sale with one, up to its last statement's
last sequence. Sales past it, made more than `STATEMENT_DUE_HOURS` ago, mean a shift that was
never closed or whose statement never arrived: one open STATEMENT_MISSING anomaly per register
(on its first such sale, no statement named), kept up to date by beat every hour and cleared
once a statement covers those sales.

Registers that never sent a statement are not judged: they may not close shifts at all (a
register whose first statement is lost shows once its next one, chained to it, arrives).
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.auditor.models import STATEMENT_MISSING, Anomaly
from portal.core.extensions import db
from portal.transactions.models import PosTransaction, ShiftStatement


def check(now: datetime, register_ids: set[int] | None = None) -> int:
    """Open, update or clear the registers' overdue-statement anomalies; how many are open."""
    cutoff = now - timedelta(hours=current_app.config.get("STATEMENT_DUE_HOURS", 24))
    s, t = ShiftStatement, PosTransaction
    covered = sa.select(s.register_id, sa.func.max(s.last_sequence).label("last")).group_by(
        s.register_id
    )
    if register_ids is not None:
        covered = covered.where(s.register_id.in_(register_ids))
    covered = covered.subquery()
    overdue = {
        row.register_id: row
        for row in db.session.execute(
            sa.select(
                t.register_id,
                t.store_id,
                sa.func.count().label("sales"),
                sa.func.min(t.sequence).label("first"),
                sa.func.max(t.sequence).label("last"),
                sa.func.sum(t.total).label("amount"),
            )
            .join(covered, covered.c.register_id == t.register_id)
            .where(t.sequence > covered.c.last, t.created_at < cutoff)
            .group_by(t.register_id, t.store_id)
        )
    }
    open_ones = sa.select(Anomaly).where(
        Anomaly.kind == STATEMENT_MISSING,
        Anomaly.shift_statement_id.is_(None),
        Anomaly.cleared_at.is_(None),
    )
    if register_ids is not None:
        open_ones = open_ones.where(Anomaly.register_id.in_(register_ids))
    current = {a.register_id: a for a in db.session.scalars(open_ones)}
    for register_id, anomaly in current.items():
        if register_id not in overdue:
            anomaly.cleared_at = now
            anomaly.detail = dict(
                anomaly.detail, cleared=f"A statement covers these sales by {now.isoformat()}."
            )
    for register_id, row in overdue.items():
        message = (
            f"Sold {row.sales} sale(s) (sequences {row.first} to {row.last}, "
            f"{row.amount:.2f}) after its last shift statement and closed no shift since."
        )
        detail = {
            "from": row.first,
            "to": row.last,
            "sales": row.sales,
            "amount": f"{row.amount:.2f}",
        }
        anomaly = current.get(register_id)
        if anomaly is None:
            first_sale = db.session.scalar(
                sa.select(sa.func.min(t.id)).where(
                    t.register_id == register_id, t.sequence == row.first
                )
            )
            db.session.add(
                Anomaly(
                    kind=STATEMENT_MISSING,
                    store_id=row.store_id,
                    register_id=register_id,
                    pos_transaction_id=first_sale,
                    message=message,
                    detail=detail,
                    detected_at=now,
                )
            )
        else:
            anomaly.message, anomaly.detail = message, detail
    db.session.flush()
    return len(overdue)
