"""Operations: the Prometheus `/metrics` endpoint, reading what every package knows.

It sits with the entry points, above every feature, so it may read them all; it hears of
stored sales through `portal.transactions.signals.sales_stored` to time their journey.
"""

from collections.abc import Callable
from datetime import datetime
from functools import partial

from flask import Flask

from portal.core.metrics import SALE_UPLOAD_LATENCY
from portal.transactions.signals import Arrival, sales_stored


def init_app(app: Flask) -> None:
    """Time every sale from the register to HQ as batches are stored."""
    sales_stored.connect(observe_upload_latency)


def observe_upload_latency(
    sender, *, arrivals: list[Arrival], now: datetime, **_
) -> Callable[[], None]:
    """Record how long each stored sale took from being made to reaching HQ (what it returns:
    Python only, run while the database writes the batch's lines)."""
    return partial(_observe, arrivals, now)


def _observe(arrivals: list[Arrival], now: datetime) -> None:
    for arrival in arrivals:
        SALE_UPLOAD_LATENCY.observe(max((now - arrival.sale.created_at).total_seconds(), 0))
