"""What the rules record: anomaly rows of the sales a batch stored (`signals.Arrival`)."""

from datetime import date, datetime, timedelta

from portal.transactions.signals import Arrival
from portal.transactions.validation import Sale


def finding(kind: str, arrival: Arrival, message: str, detail: dict, now: datetime) -> dict:
    """One anomaly row of a sale the batch stored."""
    return {
        "kind": kind,
        "store_id": arrival.store_id,
        "register_id": arrival.register_id,
        "pos_transaction_id": arrival.pk,
        "message": message,
        "detail": detail,
        "detected_at": now,
    }


def local_day(sale: Sale) -> date:
    """The sale's day as the register saw it: price and tax validity dates are shop days."""
    return (sale.created_at + timedelta(minutes=sale.utc_offset_minutes)).date()
