"""Upload sessions and the sales transactions (lines, payments) they brought to HQ."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow
from portal.setup.models import ChannelDatabase, Register, Store

UPLOAD_STARTED = "started"
UPLOAD_AVAILABLE = "available"
UPLOAD_UPLOADED = "uploaded"
UPLOAD_APPLIED = "applied"
UPLOAD_CANCELED = "canceled"
UPLOAD_UPLOAD_FAILED = "upload_failed"
UPLOAD_APPLY_FAILED = "apply_failed"
UPLOAD_STATUSES = (
    UPLOAD_STARTED,
    UPLOAD_AVAILABLE,
    UPLOAD_UPLOADED,
    UPLOAD_APPLIED,
    UPLOAD_CANCELED,
    UPLOAD_UPLOAD_FAILED,
    UPLOAD_APPLY_FAILED,
)

KIND_SALE = "sale"
KIND_RETURN = "return"
KIND_VOID = "void"
TRANSACTION_KINDS = (KIND_SALE, KIND_RETURN, KIND_VOID)

# Money and quantities: exact decimals with four places, never floats.
Amount = sa.Numeric(18, 4)


class UploadSession(db.Model):
    """One batch of transactions a device uploaded, its outcome and the response to replay."""

    __tablename__ = "upload_session"
    __table_args__ = (
        sa.UniqueConstraint(
            "channel_database_id", "idempotency_key", name="uq_upload_session_idempotency"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_database_id: Mapped[int] = mapped_column(
        sa.ForeignKey("channel_database.id"), index=True
    )
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(100))
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(20), default=UPLOAD_STARTED, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transactions: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    duplicates: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    response: Mapped[dict | None] = mapped_column(sa.JSON)
    message: Mapped[str] = mapped_column(sa.Text, default="")

    channel_database: Mapped[ChannelDatabase] = relationship()


class PosTransaction(db.Model):
    """A sale as a register recorded it, stored once whatever how often it was uploaded."""

    __tablename__ = "pos_transaction"
    __table_args__ = (
        # A sale is its register's: the same id from another register is another sale, so no
        # device ever meets a sale of a register it does not upload for. Leading with the id,
        # this index also finds every register's sale under one id.
        sa.UniqueConstraint(
            "transaction_id", "register_id", name="uq_pos_transaction_transaction_register"
        ),
        sa.Index("ix_pos_transaction_register_sequence", "register_id", "sequence"),
        # A receipt number used twice in a store is an anomaly, checked on every upload.
        sa.Index("ix_pos_transaction_store_receipt", "store_id", "receipt_number"),
        # The auditors' lists: newest first, then by sequence, a page at a time.
        sa.Index("ix_pos_transaction_created_sequence", "created_at", "sequence", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[str] = mapped_column(sa.String(36))
    register_id: Mapped[int] = mapped_column(sa.ForeignKey("register.id"))
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("store.id"), index=True)
    upload_session_id: Mapped[int] = mapped_column(sa.ForeignKey("upload_session.id"), index=True)
    sequence: Mapped[int] = mapped_column(sa.BigInteger)
    receipt_number: Mapped[str] = mapped_column(sa.String(40))
    staff: Mapped[str] = mapped_column(sa.String(30), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The register's own clock offset, so auditors see local shop time as the register did.
    utc_offset_minutes: Mapped[int] = mapped_column(default=0)
    offline: Mapped[bool] = mapped_column(default=False)
    # Since when the register had been offline when it made this sale, as it reported.
    offline_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # sale, return (money back to the customer) or void (cancelled at the register).
    kind: Mapped[str] = mapped_column(
        sa.String(10), default=KIND_SALE, server_default=KIND_SALE, index=True
    )
    total: Mapped[Decimal] = mapped_column(Amount)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Where auditors stand with it (portal.auditor.models.REVIEW_STATUSES).
    review_status: Mapped[str] = mapped_column(
        sa.String(12), default="open", server_default="open", index=True
    )

    register: Mapped[Register] = relationship()
    store: Mapped[Store] = relationship()
    lines: Mapped[list[TransactionLine]] = relationship(order_by="TransactionLine.line_number")
    payments: Mapped[list[TransactionPayment]] = relationship(
        order_by="TransactionPayment.line_number"
    )


# The auditors' search (portal.auditor.transaction_queries, "q") matches the start of a receipt
# number, in any case, or of a transaction id. Pattern operator classes let PostgreSQL answer
# LIKE 'abc%' from these under any collation; without them it read every sale for each search
# (1.2 s at a million sales, bench/RESULTS.md).
sa.Index(
    "ix_pos_transaction_receipt_prefix",
    sa.func.lower(PosTransaction.receipt_number).label("receipt_lower"),
    postgresql_ops={"receipt_lower": "text_pattern_ops"},
)
# A receipt found by any part of its number (ILIKE '%text%'): a GIN index of its trigrams on
# PostgreSQL (pg_trgm), a plain one elsewhere.
sa.Index(
    "ix_pos_transaction_receipt_number_trgm",
    PosTransaction.receipt_number,
    postgresql_using="gin",
    postgresql_ops={"receipt_number": "gin_trgm_ops"},
)
sa.Index(
    "ix_pos_transaction_transaction_id_prefix",
    PosTransaction.transaction_id,
    postgresql_ops={"transaction_id": "varchar_pattern_ops"},
)


class TransactionLine(db.Model):
    """One sold product of a transaction."""

    __tablename__ = "pos_transaction_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    pos_transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("pos_transaction.id"), index=True)
    line_number: Mapped[int] = mapped_column()
    product: Mapped[str] = mapped_column(sa.String(40))
    quantity: Mapped[Decimal] = mapped_column(Amount)
    unit_price: Mapped[Decimal] = mapped_column(Amount)
    discount: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    tax_code: Mapped[str] = mapped_column(sa.String(20), default="")
    tax_amount: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    # The cashier typed a price instead of the one the register had.
    price_override: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class TransactionPayment(db.Model):
    """One tender of a transaction (cash, card, ...)."""

    __tablename__ = "pos_transaction_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    pos_transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("pos_transaction.id"), index=True)
    line_number: Mapped[int] = mapped_column()
    method: Mapped[str] = mapped_column(sa.String(30))
    amount: Mapped[Decimal] = mapped_column(Amount)


class TransactionConflict(db.Model):
    """A transaction id that came back with other content: kept aside for an auditor."""

    __tablename__ = "transaction_conflict"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    pos_transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("pos_transaction.id"), index=True)
    upload_session_id: Mapped[int] = mapped_column(sa.ForeignKey("upload_session.id"), index=True)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict] = mapped_column(sa.JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pos_transaction: Mapped[PosTransaction] = relationship()


# Where HQ stands with a shift statement against the sales received (portal.auditor.reconcile).
STATEMENT_RECONCILED = "reconciled"
STATEMENT_SALES_MISSING = "sales_missing"
STATEMENT_TOTALS_DIFFER = "totals_differ"
STATEMENT_MISSING = "statement_missing"
STATEMENT_STATES = (
    STATEMENT_SALES_MISSING,
    STATEMENT_TOTALS_DIFFER,
    STATEMENT_MISSING,
    STATEMENT_RECONCILED,
)


class ShiftStatement(db.Model):
    """What a register says it sold in a shift (its Z report), and how it reconciles at HQ."""

    __tablename__ = "shift_statement"
    __table_args__ = (
        sa.UniqueConstraint("register_id", "shift_id", name="uq_shift_statement_register_shift"),
        sa.Index("ix_shift_statement_store_day", "store_id", "business_day"),
        sa.Index("ix_shift_statement_closed", "closed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[int] = mapped_column(sa.ForeignKey("register.id"), index=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("store.id"))
    channel_database_id: Mapped[int] = mapped_column(sa.ForeignKey("channel_database.id"))
    shift_id: Mapped[str] = mapped_column(sa.String(60))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The shop's day the shift opened on, by the register's own clock: the reconciliation's day.
    business_day: Mapped[date] = mapped_column(sa.Date)
    first_sequence: Mapped[int] = mapped_column(sa.BigInteger)
    last_sequence: Mapped[int] = mapped_column(sa.BigInteger)
    # As stated: {"sale": 38, ...}, {"sale": "512.40", ...} and {"cash": "300.40", ...}.
    counts: Mapped[dict] = mapped_column(sa.JSON)
    totals: Mapped[dict] = mapped_column(sa.JSON)
    payments: Mapped[dict] = mapped_column(sa.JSON)
    total: Mapped[Decimal] = mapped_column(Amount)
    previous_hash: Mapped[str | None] = mapped_column(sa.String(64))
    sales_digest: Mapped[str | None] = mapped_column(sa.String(64))
    # The statement's own hash, which the register's next statement names as its previous one.
    statement_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Kept by the auditor's reconciliation, again each time more of the shift's sales arrive.
    state: Mapped[str] = mapped_column(sa.String(20), default=STATEMENT_SALES_MISSING, index=True)
    chain_broken: Mapped[bool] = mapped_column(default=False)
    received_total: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    # What the statement says is still out: its total less that of the sales received.
    unaccounted: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    missing_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    missing: Mapped[list] = mapped_column(sa.JSON, default=list)
    differences: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    register: Mapped[Register] = relationship()
    store: Mapped[Store] = relationship()
