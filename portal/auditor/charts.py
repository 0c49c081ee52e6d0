"""Figures of the auditor workspace, each one GROUP BY query: charts and the store summary."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.auditor.models import ANOMALY_KINDS, REVIEW_OPEN, Anomaly
from portal.auditor.transaction_queries import day_end, day_start
from portal.core.extensions import db
from portal.core.sql import is_postgresql
from portal.setup.models import Store
from portal.transactions.models import PosTransaction

CHART_DAYS = 30
# A chart stays readable with this many lines; the rest of the stores are summed into one.
MAX_STORE_LINES = 8
OTHER_STORES = "Other stores"
# (label, upper bound in seconds): upload delays from the register's clock to HQ's.
DELAY_BUCKETS = (
    ("under 1 min", 60),
    ("1–10 min", 600),
    ("10–60 min", 3600),
    ("1–6 h", 6 * 3600),
    ("6–24 h", 24 * 3600),
    ("over 1 day", None),
)


def open_anomalies_per_kind() -> dict[str, int]:
    """How many anomalies of each kind wait for an auditor, every kind listed."""
    rows = db.session.execute(
        sa.select(Anomaly.kind, sa.func.count())
        .where(Anomaly.review_status == REVIEW_OPEN)
        .group_by(Anomaly.kind)
    )
    counts = dict.fromkeys(ANOMALY_KINDS, 0)
    counts.update({kind: count for kind, count in rows})
    return counts


def anomalies_chart() -> dict:
    """Anomalies per kind, open and answered (reviewed, flagged or resolved)."""
    rows = db.session.execute(
        sa.select(Anomaly.kind, Anomaly.review_status, sa.func.count()).group_by(
            Anomaly.kind, Anomaly.review_status
        )
    )
    open_, answered = dict.fromkeys(ANOMALY_KINDS, 0), dict.fromkeys(ANOMALY_KINDS, 0)
    for kind, status, count in rows:
        counts = open_ if status == REVIEW_OPEN else answered
        counts[kind] = counts.get(kind, 0) + count
    return {
        "labels": [kind.replace("_", " ") for kind in ANOMALY_KINDS],
        "datasets": [
            {"label": "Open", "data": [open_[kind] for kind in ANOMALY_KINDS]},
            {"label": "Answered", "data": [answered[kind] for kind in ANOMALY_KINDS]},
        ],
    }


def offline_sales_chart(now: datetime) -> dict:
    """Offline sales per day (UTC) and store over the last 30 days, the busiest stores apart."""
    first = (now - timedelta(days=CHART_DAYS - 1)).date()
    days = [first + timedelta(days=n) for n in range(CHART_DAYS)]
    day = sa.func.date(PosTransaction.created_at)
    rows = db.session.execute(
        sa.select(Store.store_number, day, sa.func.count())
        .join(Store, Store.id == PosTransaction.store_id)
        .where(PosTransaction.offline, PosTransaction.created_at >= day_start(first))
        .group_by(Store.store_number, day)
    )
    per_store: dict[str, dict[str, int]] = {}
    for store_number, sold_on, count in rows:
        per_store.setdefault(store_number, {})[str(sold_on)[:10]] = count
    ranked = sorted(per_store, key=lambda number: (-sum(per_store[number].values()), number))
    shown, rest = ranked[:MAX_STORE_LINES], ranked[MAX_STORE_LINES:]
    keys = [d.isoformat() for d in days]
    datasets = [
        {"label": number, "data": [per_store[number].get(key, 0) for key in keys]}
        for number in shown
    ]
    if rest:
        others = [sum(per_store[number].get(key, 0) for number in rest) for key in keys]
        datasets.append({"label": OTHER_STORES, "data": others})
    return {"labels": keys, "datasets": datasets}


def upload_delay_chart(now: datetime) -> dict:
    """How long the sales of the last 30 days took from the register to HQ, bucketed.

    Sales are picked by when they were made, which is indexed, not by when they arrived.
    """
    delay = _seconds_between(PosTransaction.created_at, PosTransaction.received_at)
    bucket = sa.case(
        *(
            (delay < limit, index)
            for index, (_, limit) in enumerate(DELAY_BUCKETS)
            if limit is not None
        ),
        else_=len(DELAY_BUCKETS) - 1,
    )
    rows = db.session.execute(
        sa.select(bucket, sa.func.count())
        .where(PosTransaction.created_at >= now - timedelta(days=CHART_DAYS))
        .group_by(bucket)
    )
    counts = {index: count for index, count in rows}
    return {
        "labels": [label for label, _ in DELAY_BUCKETS],
        "datasets": [
            {"label": "Sales", "data": [counts.get(i, 0) for i in range(len(DELAY_BUCKETS))]}
        ],
    }


def _seconds_between(start, end):
    """SQL for the seconds from `start` to `end`: each database spells it its own way."""
    if is_postgresql():
        return sa.extract("epoch", end - start)
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400


@dataclass(frozen=True, slots=True)
class StoreSummary:
    """One store's sales in a period."""

    store_number: str
    name: str
    currency: str
    transactions: int
    value: Decimal
    offline: int
    anomalies: int

    @property
    def offline_share(self) -> Decimal | None:
        """The part of the transactions made offline, in percent with one decimal."""
        if not self.transactions:
            return None
        return (Decimal(100 * self.offline) / self.transactions).quantize(Decimal("0.1"))


def store_summaries(date_from: date | None, date_to: date | None) -> list[StoreSummary]:
    """Per store: transactions, their value, how many offline, anomalies found; by store number."""
    in_period = []
    anomaly_period = []
    if date_from:
        in_period.append(PosTransaction.created_at >= day_start(date_from))
        anomaly_period.append(Anomaly.detected_at >= day_start(date_from))
    if date_to:
        in_period.append(PosTransaction.created_at < day_end(date_to))
        anomaly_period.append(Anomaly.detected_at < day_end(date_to))
    sales = (
        sa.select(
            PosTransaction.store_id,
            sa.func.count().label("transactions"),
            sa.func.sum(PosTransaction.total).label("value"),
            sa.func.sum(sa.case((PosTransaction.offline, 1), else_=0)).label("offline"),
        )
        .where(*in_period)
        .group_by(PosTransaction.store_id)
        .subquery()
    )
    found = (
        sa.select(Anomaly.store_id, sa.func.count().label("anomalies"))
        .where(*anomaly_period)
        .group_by(Anomaly.store_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(
            Store.store_number,
            Store.name,
            Store.currency,
            sales.c.transactions,
            sales.c.value,
            sales.c.offline,
            found.c.anomalies,
        )
        .outerjoin(sales, sales.c.store_id == Store.id)
        .outerjoin(found, found.c.store_id == Store.id)
        .order_by(Store.store_number)
    )
    return [
        StoreSummary(
            store_number=number,
            name=name,
            currency=currency,
            transactions=count or 0,
            value=Decimal(value or 0),
            offline=offline or 0,
            anomalies=anomalies or 0,
        )
        for number, name, currency, count, value, offline, anomalies in rows
    ]


def totals_per_currency(summaries: list[StoreSummary]) -> list[tuple[str, int, Decimal]]:
    """(currency, transactions, value) over the stores: amounts in two currencies never add up."""
    totals: dict[str, tuple[int, Decimal]] = {}
    for row in summaries:
        count, value = totals.get(row.currency, (0, Decimal(0)))
        totals[row.currency] = (count + row.transactions, value + row.value)
    return [(currency, *totals[currency]) for currency in sorted(totals)]
