"""What the rules look at and what they record: the batch's sales and conflicts, anomaly rows."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from portal.transactions.validation import Sale


@dataclass(frozen=True, slots=True)
class Arrival:
    """A sale the batch stored: its row id and where it was made."""

    pk: int
    sale: Sale
    register_id: int
    store_id: int


@dataclass(frozen=True, slots=True)
class KeptConflict:
    """Other content of a stored sale that the batch kept aside."""

    pk: int
    stored_sha256: str
    received_sha256: str
    upload_session_id: int


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
