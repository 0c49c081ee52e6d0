"""Shift statements against the sales received: reconciled, sales missing, totals differ.

Each statement is reconciled when it arrives and again whenever a batch brings sales inside its
range of sequences (`transactions.signals.sales_stored`, in the batch's transaction, with its
stores locked). Its state, highest first:

- `sales_missing`: sequences of the shift HQ never received (`missing`, at most 100 shown, and
  `missing_count`); `unaccounted` is the statement's total less that of the sales received;
- `totals_differ`: every sale arrived, but a count or total per kind, a payment method's sum or
  the sales' digest is not what the statement says (`differences`, each stated, received and by
  how much);
- `statement_missing`: the chain is broken: the statement names a previous one HQ does not have
  (or not the one HQ has before it) - a statement never arrived, or one was altered;
- `reconciled`: every sequence accounted for, every total equal, the chain whole.

Every state but reconciled is also an open anomaly of the matching kind on the statement, with
the usual review; when the data answers it (the sales arrive, the missing statement comes), the
anomaly is cleared, and said so, like a filled sequence gap. `overdue` finds registers that sold
after their last statement and closed no shift since (portal.auditor.shifts_due).
"""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import cache

import sqlalchemy as sa

from portal.auditor import shifts_due
from portal.auditor.models import (
    STATEMENT_MISSING,
    STATEMENT_SALES_MISSING,
    STATEMENT_TOTALS_DIFFER,
    Anomaly,
)
from portal.core.extensions import db
from portal.transactions import models as tx
from portal.transactions.models import PosTransaction, ShiftStatement, TransactionPayment
from portal.transactions.signals import Arrival
from portal.transactions.statement_hash import sales_digest

SHOWN = 100
ZERO = Decimal(0)
CENT = Decimal("0.01")


def on_statement(statement: ShiftStatement, now: datetime) -> None:
    """Reconcile a new statement; mend the chain of the register's statement after it."""
    check_chain(statement, now)
    following = db.session.scalars(
        sa.select(ShiftStatement).where(
            ShiftStatement.register_id == statement.register_id,
            ShiftStatement.previous_hash == statement.statement_hash,
            ShiftStatement.chain_broken.is_(True),
        )
    )
    for later in following:
        check_chain(later, now)
        reconcile(later, now)
    reconcile(statement, now)
    shifts_due.check(now, {statement.register_id})


def on_sales(arrivals: list[Arrival], now: datetime) -> Callable[[], None] | None:
    """Find the unreconciled statements whose range a new sale falls in; what it returns (None
    if there are none) reconciles them again, once the sales' payments are written."""
    statements = _in_range(arrivals)
    if not statements:
        return None

    def reconcile_all() -> None:
        for statement in statements:
            reconcile(statement, now)

    return reconcile_all


def _in_range(arrivals: list[Arrival]) -> list[ShiftStatement]:
    if not arrivals:
        return []
    sequences: dict[int, list[int]] = {}
    for arrival in arrivals:
        sequences.setdefault(arrival.register_id, []).append(arrival.sale.sequence)
    candidates = db.session.scalars(
        _unreconciled_query(),
        {
            "registers": list(sequences),
            "highest": max(max(v) for v in sequences.values()),
            "lowest": min(min(v) for v in sequences.values()),
        },
    )
    return [
        statement
        for statement in candidates
        if any(
            statement.first_sequence <= n <= statement.last_sequence
            for n in sequences[statement.register_id]
        )
    ]


@cache
def _unreconciled_query() -> sa.Select:
    # Built once: building this select cost about what running it does, on every batch.
    s = ShiftStatement
    return sa.select(s).where(
        s.register_id.in_(sa.bindparam("registers", expanding=True)),
        s.state != tx.STATEMENT_RECONCILED,
        s.first_sequence <= sa.bindparam("highest"),
        s.last_sequence >= sa.bindparam("lowest"),
    )


def check_chain(statement: ShiftStatement, now: datetime) -> None:
    """Whether the statement names, as its previous one, the statement HQ has before it."""
    s = ShiftStatement
    before = db.session.scalar(
        sa.select(s)
        .where(
            s.register_id == statement.register_id,
            s.id != statement.id,
            sa.or_(
                s.closed_at < statement.closed_at,
                sa.and_(s.closed_at == statement.closed_at, s.id < statement.id),
            ),
        )
        .order_by(s.closed_at.desc(), s.id.desc())
        .limit(1)
    )
    named = statement.previous_hash
    problem = None
    if named is None and before is not None:
        problem = (
            f"Names no previous statement, but HQ has shift {before.shift_id} before it: "
            "the register's chain of statements started again."
        )
    elif named is not None and (before is None or before.statement_hash != named):
        problem = f"Names a previous statement ({named[:12]}…) that HQ never received" + (
            f"; the last one HQ has before it is shift {before.shift_id}." if before else "."
        )
    statement.chain_broken = problem is not None
    detail = {
        "previous_hash": named,
        "previous_shift_at_hq": before.shift_id if before else None,
        "shift_id": statement.shift_id,
    }
    _settle(statement, STATEMENT_MISSING, problem, detail, now)


def reconcile(statement: ShiftStatement, now: datetime) -> None:
    """Compare the statement with the sales received in its range; set its state and anomalies."""
    first, last = statement.first_sequence, statement.last_sequence
    t = PosTransaction
    in_range = sa.and_(t.register_id == statement.register_id, t.sequence.between(first, last))
    # A sale is its register's (id, register); one per sequence counts, the first stored.
    firsts = (
        sa.select(sa.func.min(t.id).label("id")).where(in_range).group_by(t.sequence).subquery()
    )
    kinds = {
        kind: (count, total or ZERO)
        for kind, count, total in db.session.execute(
            sa.select(t.kind, sa.func.count(), sa.func.sum(t.total))
            .where(t.id.in_(sa.select(firsts.c.id)))
            .group_by(t.kind)
        )
    }
    received = sum(count for count, _ in kinds.values())
    missing: list[int] = []
    if received < last - first + 1:
        present = set(db.session.scalars(sa.select(t.sequence).where(in_range).distinct()))
        missing = [n for n in range(first, last + 1) if n not in present]
    received_total = sum((total for _, total in kinds.values()), ZERO)
    statement.received_total = received_total
    statement.unaccounted = statement.total - received_total
    statement.missing_count = len(missing)
    statement.missing = missing[:SHOWN]
    differences = {} if missing else _differences(statement, kinds, firsts)
    statement.differences = differences
    if missing:
        state = tx.STATEMENT_SALES_MISSING
    elif differences:
        state = tx.STATEMENT_TOTALS_DIFFER
    elif statement.chain_broken:
        state = tx.STATEMENT_MISSING
    else:
        state = tx.STATEMENT_RECONCILED
    if state == tx.STATEMENT_RECONCILED and statement.reconciled_at is None:
        statement.reconciled_at = now
    elif state != tx.STATEMENT_RECONCILED:
        statement.reconciled_at = None
    statement.state = state
    _settle(
        statement,
        STATEMENT_SALES_MISSING,
        _missing_message(statement, missing) if missing else None,
        {
            "shift_id": statement.shift_id,
            "missing": missing[:SHOWN],
            "missing_count": len(missing),
            "unaccounted": _text(statement.unaccounted),
        },
        now,
    )
    _settle(
        statement,
        STATEMENT_TOTALS_DIFFER,
        _differ_message(statement, differences) if differences else None,
        {"shift_id": statement.shift_id, "differences": differences},
        now,
    )


def _differences(statement: ShiftStatement, kinds: dict, firsts) -> dict:
    """What the statement says and the sales received do not: per kind, per payment, digest."""
    found: dict = {}
    for kind in sorted(set(statement.counts) | set(statement.totals) | set(kinds)):
        count, total = kinds.get(kind, (0, ZERO))
        stated_count = statement.counts.get(kind, 0)
        stated_total = Decimal(statement.totals.get(kind, "0"))
        if stated_count != count:
            found.setdefault("counts", {})[kind] = {
                "stated": stated_count,
                "received": count,
                "difference": stated_count - count,
            }
        if stated_total != total:
            found.setdefault("totals", {})[kind] = _money_difference(stated_total, total)
    p = TransactionPayment
    paid = {
        method: amount or ZERO
        for method, amount in db.session.execute(
            sa.select(p.method, sa.func.sum(p.amount))
            .where(p.pos_transaction_id.in_(sa.select(firsts.c.id)))
            .group_by(p.method)
        )
    }
    # Payment methods are compared in any case: CASH at the register is cash at HQ.
    stated_paid: dict[str, Decimal] = {}
    for method, amount in statement.payments.items():
        stated_paid[method.lower()] = stated_paid.get(method.lower(), ZERO) + Decimal(amount)
    received_paid: dict[str, Decimal] = {}
    for method, amount in paid.items():
        received_paid[method.lower()] = received_paid.get(method.lower(), ZERO) + amount
    for method in sorted(set(stated_paid) | set(received_paid)):
        stated, got = stated_paid.get(method, ZERO), received_paid.get(method, ZERO)
        if stated != got:
            found.setdefault("payments", {})[method] = _money_difference(stated, got)
    if statement.sales_digest:
        t = PosTransaction
        hashes = list(
            db.session.scalars(
                sa.select(t.content_sha256)
                .where(t.id.in_(sa.select(firsts.c.id)))
                .order_by(t.sequence)
            )
        )
        digest = sales_digest(hashes)
        if digest != statement.sales_digest:
            found["sales_digest"] = {"stated": statement.sales_digest, "received": digest}
    return found


def _money_difference(stated: Decimal, received: Decimal) -> dict:
    return {
        "stated": _text(stated),
        "received": _text(received),
        "difference": _text(stated - received),
    }


def _text(value: Decimal) -> str:
    """An amount as exact text: two places when that loses nothing, else all it has."""
    cents = value.quantize(CENT)
    return str(cents if cents == value else value.normalize())


def _missing_message(statement: ShiftStatement, missing: list[int]) -> str:
    shown = ", ".join(str(n) for n in missing[:10]) + (" …" if len(missing) > 10 else "")
    return (
        f"Shift {statement.shift_id}: {len(missing)} sale(s) not received (sequence {shown}); "
        f"{statement.unaccounted:.2f} still unaccounted for."
    )


def _differ_message(statement: ShiftStatement, differences: dict) -> str:
    parts = [
        f"{method} by {values['difference']}"
        for method, values in differences.get("payments", {}).items()
    ]
    parts += [
        f"{kind} total by {values['difference']}"
        for kind, values in differences.get("totals", {}).items()
    ]
    parts += [
        f"{kind} count by {values['difference']}"
        for kind, values in differences.get("counts", {}).items()
    ]
    if "sales_digest" in differences:
        parts.append("the sales' digest")
    differs = ", ".join(parts)
    return f"Shift {statement.shift_id}: every sale arrived, but differs in {differs}."


def _settle(
    statement: ShiftStatement, kind: str, problem: str | None, detail: dict, now: datetime
) -> None:
    """Keep one open anomaly of the kind on the statement while `problem`; clear it after."""
    current = db.session.scalar(
        sa.select(Anomaly).where(
            Anomaly.shift_statement_id == statement.id,
            Anomaly.kind == kind,
            Anomaly.cleared_at.is_(None),
        )
    )
    if problem is not None:
        if current is None:
            db.session.add(
                Anomaly(
                    kind=kind,
                    store_id=statement.store_id,
                    register_id=statement.register_id,
                    shift_statement_id=statement.id,
                    message=problem,
                    detail=detail,
                    detected_at=now,
                )
            )
        else:
            current.message, current.detail = problem, detail
    elif current is not None:
        current.cleared_at = now
        # A new dict: JSON columns do not notice changes made inside the old one.
        cleared = f"Answered by the data received by {now.isoformat()}."
        current.detail = dict(detail, cleared=cleared)
