"""The auditor workspace: anomalies found in uploaded sales, reviews, lists, exports and charts.

It reads the received sales (`portal.transactions`) and hears of each stored batch through
`portal.transactions.signals.sales_stored`; `transactions` never imports it.
"""

from datetime import datetime

from flask import Flask

from portal.auditor import rules
from portal.transactions.signals import Arrival, KeptConflict, sales_stored


def init_app(app: Flask) -> None:
    """Run the anomaly rules on every batch of sales stored, in the batch's own transaction."""
    sales_stored.connect(check_batch)


def check_batch(
    sender, *, arrivals: list[Arrival], conflicts: list[KeptConflict], now: datetime, **_
) -> int:
    """Add the anomalies of a batch that ingest stored; how many were added."""
    return rules.check(arrivals, conflicts, now)
