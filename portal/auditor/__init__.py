"""The auditor workspace: anomalies found in uploaded sales, reviews, lists, exports and charts.

It reads the received sales (`portal.transactions`) and hears of each stored batch through
`portal.transactions.signals.sales_stored`, and of each shift statement through
`statement_stored`; `transactions` never imports it.
"""

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from portal.auditor import reconcile, rules
from portal.transactions.models import ShiftStatement
from portal.transactions.signals import Arrival, KeptConflict, sales_stored, statement_stored


def init_app(app: Flask) -> None:
    """Run the anomaly rules and the reconciliation on what is stored, in its own transaction."""
    sales_stored.connect(check_batch)
    sales_stored.connect(reconcile_batch)
    statement_stored.connect(reconcile_statement)


def check_batch(
    sender, *, arrivals: list[Arrival], conflicts: list[KeptConflict], now: datetime, **_
) -> Callable[[], int]:
    """Read for the anomalies of a batch that ingest stored; what it returns adds them (and
    says how many)."""
    return rules.check(arrivals, conflicts, now)


def reconcile_batch(
    sender, *, arrivals: list[Arrival], now: datetime, **_
) -> Callable[[], None] | None:
    """Find the shift statements the batch's sales fall in; what it returns reconciles them
    again, once the sales' payments are written."""
    return reconcile.on_sales(arrivals, now)


def reconcile_statement(sender, *, statement: ShiftStatement, now: datetime, **_) -> None:
    """Reconcile a shift statement HQ just stored."""
    reconcile.on_statement(statement, now)
