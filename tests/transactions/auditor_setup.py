"""Data for the auditor pages' tests: sales taken in through the real upload service."""

import json
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from portal.auditor.models import Anomaly
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.transactions import ingest
from portal.transactions.models import PosTransaction
from tests.transactions.conftest import offline_database, sale


def local(moment: datetime, offset_hours: int = -6) -> str:
    """A timestamp as a register in a UTC-6 shop writes it."""
    return moment.astimezone(timezone(timedelta(hours=offset_hours))).isoformat()


def ago(**span) -> datetime:
    """The instant that long before now."""
    return utcnow() - timedelta(**span)


def sold(register: str, sequence: int, **changes) -> dict:
    """A sale of `register` with this sequence number and receipt, changed as asked."""
    return sale(
        register=register,
        sequence=sequence,
        receipt_number=f"{register}-{sequence:06d}",
        **changes,
    )


def upload(register: str, *sales: dict) -> dict:
    """Send the sales as the register's device would; the upload's response."""
    body = json.dumps({"transactions": list(sales)}).encode()
    response, _ = ingest.receive(offline_database(register), body, None)
    db.session.commit()
    return response


def stored(transaction_id: str) -> PosTransaction:
    """The stored sale with this id."""
    return db.session.scalar(sa.select(PosTransaction).filter_by(transaction_id=transaction_id))


def anomaly(sale_row: PosTransaction, kind: str, message: str = "Found by a rule", **extra):
    """An anomaly of a stored sale, as the rules would record it."""
    found = Anomaly(
        kind=kind,
        store_id=sale_row.store_id,
        register_id=sale_row.register_id,
        pos_transaction_id=sale_row.id,
        message=message,
        **extra,
    )
    db.session.add(found)
    db.session.commit()
    return found


def priced(amount: str) -> dict:
    """Lines, payments and total of a one-line sale worth `amount`, tax included in nothing."""
    return {
        "lines": [
            {
                "product": "P-2002",
                "quantity": "1",
                "unit_price": amount,
                "discount": "0",
                "tax_code": "EXEMPT",
                "tax_amount": "0",
            }
        ],
        "payments": [{"method": "card", "amount": amount}],
        "total": amount,
    }
