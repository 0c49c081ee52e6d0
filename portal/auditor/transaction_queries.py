"""Which received transactions an auditor asks for: one filter shared by the API and the pages."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.auditor import reviews
from portal.auditor.models import SUBJECT_TRANSACTION, Anomaly
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.search import escape_like
from portal.setup.models import ChannelDatabase, Register, Store
from portal.transactions.models import PosTransaction, TransactionConflict, UploadSession

_COLUMNS = PosTransaction.__table__.columns
# Newest first, and sales of the same instant by their sequence (receipt order); the id last
# keeps the keys unique for the keyset pages.
LIST_ORDER = (PosTransaction.created_at, PosTransaction.sequence, PosTransaction.id)


def day_start(value: date | datetime) -> datetime:
    """The first instant of a day in UTC, or a datetime itself (made UTC if naive)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


def day_end(value: date | datetime) -> datetime:
    """The instant after a day in UTC (exclusive bound), or a datetime itself (inclusive)."""
    if isinstance(value, datetime):
        return day_start(value) + timedelta(microseconds=1)
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)


def transactions_query(filters: dict) -> sa.Select:
    """Select received transactions, newest first by LIST_ORDER (created_at, sequence, id).

    `filters` keys, all optional; a missing key or a None / "" value does not filter:
    - "store": store number (str); "register": register number (str);
    - "date_from", "date_to": bounds on created_at, both inclusive: a date covers its whole
      UTC day, a datetime is taken as the instant;
    - "offline": bool; "staff": str (exact); "kind": "sale" | "return" | "void";
    - "min_total", "max_total": Decimal, inclusive;
    - "review_status": one of portal.auditor.models.REVIEW_STATUSES;
    - "anomaly": an anomaly kind the transaction has (cleared or not);
    - "q": text anywhere in a receipt number (case-insensitive), or a transaction id's start.
    """
    stmt = sa.select(PosTransaction)
    if _given(filters, "q"):
        text = escape_like(filters["q"].strip().lower())
        stmt = stmt.where(
            sa.or_(
                PosTransaction.receipt_number.ilike(f"%{text}%", escape="\\"),
                PosTransaction.transaction_id.like(f"{text}%", escape="\\"),
            )
        )
    if _given(filters, "store"):
        stmt = stmt.where(
            PosTransaction.store_id.in_(
                sa.select(Store.id).where(Store.store_number == filters["store"])
            )
        )
    if _given(filters, "register"):
        stmt = stmt.where(
            PosTransaction.register_id.in_(
                sa.select(Register.id).where(Register.register_number == filters["register"])
            )
        )
    if _given(filters, "date_from"):
        stmt = stmt.where(PosTransaction.created_at >= day_start(filters["date_from"]))
    if _given(filters, "date_to"):
        stmt = stmt.where(PosTransaction.created_at < day_end(filters["date_to"]))
    for key, column in (
        ("offline", PosTransaction.offline),
        ("staff", PosTransaction.staff),
        ("kind", PosTransaction.kind),
        ("review_status", PosTransaction.review_status),
    ):
        if _given(filters, key):
            stmt = stmt.where(column == filters[key])
    if _given(filters, "min_total"):
        stmt = stmt.where(PosTransaction.total >= filters["min_total"])
    if _given(filters, "max_total"):
        stmt = stmt.where(PosTransaction.total <= filters["max_total"])
    if _given(filters, "anomaly"):
        stmt = stmt.where(
            sa.exists().where(
                Anomaly.pos_transaction_id == PosTransaction.id,
                Anomaly.kind == filters["anomaly"],
            )
        )
    return stmt.order_by(*(key.desc() for key in LIST_ORDER))


def upload_sessions_query(filters: dict) -> sa.Select:
    """Upload sessions matching the filters (store, status), for the page and the CSV alike."""
    stmt = sa.select(UploadSession)
    if "store" in filters:
        stmt = stmt.where(
            UploadSession.channel_database_id.in_(
                sa.select(ChannelDatabase.id)
                .join(Store, Store.id == ChannelDatabase.store_id)
                .where(Store.store_number == filters["store"])
            )
        )
    if "status" in filters:
        stmt = stmt.where(UploadSession.status == filters["status"])
    return stmt


def _given(filters: dict, key: str) -> bool:
    return filters.get(key) not in (None, "")


def get_transaction(pk: int) -> PosTransaction:
    """A received transaction by its id, or NotFound."""
    found = db.session.get(PosTransaction, pk)
    if found is None:
        raise NotFound(f"Transaction {pk} does not exist.")
    return found


def transaction_detail(pk: int) -> dict[str, Any]:
    """Everything an auditor reads about one transaction, or NotFound.

    Its columns and store and register, its lines and payments, its anomalies, the other
    contents kept for its id, its review history, how long it took to reach HQ
    (`received_after_seconds`) and how long its register had been offline (`offline_minutes`).
    """
    transaction = get_transaction(pk)
    offline_for = (
        None
        if transaction.offline_since is None
        else transaction.created_at - transaction.offline_since
    )
    return {
        **{column.key: getattr(transaction, column.key) for column in _COLUMNS},
        "store": transaction.store,
        "register": transaction.register,
        "received_after_seconds": int(
            (transaction.received_at - transaction.created_at).total_seconds()
        ),
        "offline_minutes": None if offline_for is None else int(offline_for.total_seconds() // 60),
        "lines": transaction.lines,
        "payments": transaction.payments,
        "anomalies": anomalies_of(pk),
        "conflicts": conflicts_of(pk),
        "reviews": reviews.history(SUBJECT_TRANSACTION, pk),
    }


def anomalies_of(pk: int) -> list[Anomaly]:
    """The anomalies found on a transaction, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Anomaly)
            .where(Anomaly.pos_transaction_id == pk)
            .options(selectinload(Anomaly.store), selectinload(Anomaly.register))
            .order_by(Anomaly.id)
        )
    )


def conflicts_of(pk: int) -> list[TransactionConflict]:
    """The other contents that came for a transaction's id, oldest first."""
    return list(
        db.session.scalars(
            sa.select(TransactionConflict)
            .where(TransactionConflict.pos_transaction_id == pk)
            .order_by(TransactionConflict.id)
        )
    )
