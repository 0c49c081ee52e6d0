"""CSV exports of the auditor's lists, streamed: rows are read in keyset batches, never all."""

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.auditor.charts import StoreSummary
from portal.auditor.models import Anomaly
from portal.core.extensions import db
from portal.core.pagination import keyset_page_desc
from portal.setup.models import ChannelDatabase
from portal.transactions.models import PosTransaction, ShiftStatement, UploadSession

BATCH = 1000
CENT = Decimal("0.01")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

TRANSACTION_HEADER = (
    "id",
    "transaction_id",
    "store",
    "register",
    "sequence",
    "receipt_number",
    "staff",
    "kind",
    "created_at_utc",
    "created_at_local",
    "offline",
    "offline_since_utc",
    "total",
    "received_at_utc",
    "upload_session",
    "review_status",
)
ANOMALY_HEADER = (
    "id",
    "kind",
    "store",
    "register",
    "transaction_id",
    "message",
    "detected_at_utc",
    "cleared_at_utc",
    "review_status",
)
UPLOAD_SESSION_HEADER = (
    "id",
    "received_at_utc",
    "finished_at_utc",
    "channel_database",
    "store",
    "status",
    "transactions",
    "accepted",
    "duplicates",
    "rejected",
    "conflicts",
    "message",
)
STATEMENT_HEADER = (
    "id",
    "store",
    "business_day",
    "register",
    "shift_id",
    "opened_at_utc",
    "closed_at_utc",
    "first_sequence",
    "last_sequence",
    "state",
    "chain_broken",
    "stated_total",
    "received_total",
    "unaccounted",
    "missing_count",
    "missing_sequences",
    "differences",
)
STORE_HEADER = (
    "store",
    "name",
    "currency",
    "transactions",
    "value",
    "offline",
    "offline_share_percent",
    "anomalies",
)


def amount(value: Decimal | None) -> str:
    """A stored amount as exact text: two places when that loses nothing, else all four."""
    if value is None:
        return ""
    cents = value.quantize(CENT)
    return str(cents if cents == value else value.normalize())


def text(value: str) -> str:
    """Free text a device or a person typed, made inert for spreadsheets.

    A cell starting with = + - @ would run as a formula in the auditor's spreadsheet.
    """
    return f"'{value}" if value[:1] in FORMULA_STARTS else value


def stamp(value: datetime | None) -> str:
    """A timestamp as ISO 8601, or empty."""
    return "" if value is None else value.isoformat()


def local_time(sale: PosTransaction) -> datetime:
    """When the register made the sale, on its own clock and in its own offset."""
    offset = timedelta(minutes=sale.utc_offset_minutes)
    return sale.created_at.astimezone(timezone(offset))


def in_batches(stmt: sa.Select, keys, convert: Callable) -> Iterator[list]:
    """Rows of `stmt` (newest first by `keys`) as CSV rows, one keyset batch in memory at once."""
    cursor = None
    while True:
        batch, cursor = keyset_page_desc(stmt, keys, cursor, BATCH)
        for item in batch:
            yield convert(item)
        # The identity map would otherwise keep every exported row until the response ends.
        db.session.expunge_all()
        if cursor is None:
            return


def transaction_rows(stmt: sa.Select) -> Iterator[list]:
    """CSV rows of the transactions `stmt` selects."""
    stmt = stmt.options(joinedload(PosTransaction.store), joinedload(PosTransaction.register))
    keys = (PosTransaction.created_at, PosTransaction.id)
    return in_batches(stmt, keys, _transaction_row)


def _transaction_row(sale: PosTransaction) -> list:
    return [
        sale.id,
        sale.transaction_id,
        sale.store.store_number,
        sale.register.register_number,
        sale.sequence,
        text(sale.receipt_number),
        text(sale.staff),
        sale.kind,
        stamp(sale.created_at),
        stamp(local_time(sale)),
        "yes" if sale.offline else "no",
        stamp(sale.offline_since),
        amount(sale.total),
        stamp(sale.received_at),
        sale.upload_session_id,
        sale.review_status,
    ]


def anomaly_rows(stmt: sa.Select) -> Iterator[list]:
    """CSV rows of the anomalies `stmt` selects."""
    stmt = stmt.options(
        joinedload(Anomaly.store), joinedload(Anomaly.register), joinedload(Anomaly.pos_transaction)
    )
    return in_batches(stmt, (Anomaly.detected_at, Anomaly.id), _anomaly_row)


def _anomaly_row(anomaly: Anomaly) -> list:
    sale = anomaly.pos_transaction
    return [
        anomaly.id,
        anomaly.kind,
        anomaly.store.store_number,
        anomaly.register.register_number,
        sale.transaction_id if sale else "",
        text(anomaly.message),
        stamp(anomaly.detected_at),
        stamp(anomaly.cleared_at),
        anomaly.review_status,
    ]


def upload_session_rows(stmt: sa.Select) -> Iterator[list]:
    """CSV rows of the upload sessions `stmt` selects."""
    stmt = stmt.options(
        joinedload(UploadSession.channel_database).joinedload(ChannelDatabase.store)
    )
    keys = (UploadSession.received_at, UploadSession.id)
    return in_batches(stmt, keys, _upload_session_row)


def _upload_session_row(session: UploadSession) -> list:
    database = session.channel_database
    return [
        session.id,
        stamp(session.received_at),
        stamp(session.finished_at),
        database.name,
        database.store.store_number,
        session.status,
        session.transactions,
        session.accepted,
        session.duplicates,
        session.rejected,
        session.conflicts,
        text(session.message),
    ]


def store_rows(summaries: list[StoreSummary]) -> Iterator[list]:
    """CSV rows of a store summary: one per store, so few that they are computed at once."""
    for row in summaries:
        share = row.offline_share
        yield [
            row.store_number,
            text(row.name),
            row.currency,
            row.transactions,
            amount(row.value),
            row.offline,
            "" if share is None else str(share),
            row.anomalies,
        ]


def filename(prefix: str, day: date) -> str:
    """A download's file name, dated."""
    return f"{prefix}-{day.isoformat()}.csv"


def statement_rows(stmt: sa.Select) -> Iterator[list]:
    """CSV rows of the shift statements `stmt` selects, latest closed first."""
    stmt = stmt.options(joinedload(ShiftStatement.store), joinedload(ShiftStatement.register))
    keys = (ShiftStatement.closed_at, ShiftStatement.id)
    return in_batches(stmt, keys, _statement_row)


def _statement_row(s: ShiftStatement) -> list:
    differences = "; ".join(
        f"{part} {name}: stated {values['stated']}, received {values['received']}"
        for part in ("payments", "totals", "counts")
        for name, values in s.differences.get(part, {}).items()
    )
    return [
        s.id,
        s.store.store_number,
        s.business_day.isoformat(),
        s.register.register_number,
        text(s.shift_id),
        stamp(s.opened_at),
        stamp(s.closed_at),
        s.first_sequence,
        s.last_sequence,
        s.state,
        "yes" if s.chain_broken else "no",
        amount(s.total),
        amount(s.received_total),
        amount(s.unaccounted),
        s.missing_count,
        " ".join(str(n) for n in s.missing),
        text(differences),
    ]
