"""Anomalies found in uploaded transactions, and the reviews auditors record."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow
from portal.setup.models import Register, Store
from portal.transactions.models import PosTransaction, ShiftStatement

# The rules HQ runs on every transaction it takes in.
SEQUENCE_GAP = "sequence_gap"
CONFLICT = "conflict"
REUSED_TRANSACTION_ID = "reused_transaction_id"
RECEIPT_REUSED = "receipt_reused"
PRICE_MISMATCH = "price_mismatch"
TAX_MISMATCH = "tax_mismatch"
LONG_OFFLINE = "long_offline"
OFFLINE_TOTAL = "offline_total"
OFFLINE_VOID = "offline_void"
OFFLINE_RETURN = "offline_return"
PRICE_OVERRIDE = "price_override"
FUTURE_DATE = "future_date"
OLD_DATE = "old_date"
# Shift statements against the sales received (portal.auditor.reconcile).
STATEMENT_SALES_MISSING = "statement_sales_missing"
STATEMENT_TOTALS_DIFFER = "statement_totals_differ"
STATEMENT_MISSING = "statement_missing"
STATEMENT_KINDS = (STATEMENT_SALES_MISSING, STATEMENT_TOTALS_DIFFER, STATEMENT_MISSING)
ANOMALY_KINDS = (
    SEQUENCE_GAP,
    CONFLICT,
    REUSED_TRANSACTION_ID,
    RECEIPT_REUSED,
    PRICE_MISMATCH,
    TAX_MISMATCH,
    LONG_OFFLINE,
    OFFLINE_TOTAL,
    OFFLINE_VOID,
    OFFLINE_RETURN,
    PRICE_OVERRIDE,
    FUTURE_DATE,
    OLD_DATE,
    *STATEMENT_KINDS,
)

# Where a transaction or an anomaly stands with the auditors; every change is a Review.
REVIEW_OPEN = "open"
REVIEW_REVIEWED = "reviewed"
REVIEW_FLAGGED = "flagged"
REVIEW_RESOLVED = "resolved"
REVIEW_STATUSES = (REVIEW_OPEN, REVIEW_REVIEWED, REVIEW_FLAGGED, REVIEW_RESOLVED)
# What an auditor may set: "open" is where everything starts.
REVIEW_ACTIONS = (REVIEW_REVIEWED, REVIEW_FLAGGED, REVIEW_RESOLVED)

SUBJECT_TRANSACTION = "transaction"
SUBJECT_ANOMALY = "anomaly"
REVIEW_SUBJECTS = (SUBJECT_TRANSACTION, SUBJECT_ANOMALY)


class Anomaly(db.Model):
    """One finding about a register's transactions, e.g. a gap in its sequence numbers."""

    __tablename__ = "anomaly"
    __table_args__ = (
        sa.Index("ix_anomaly_store_detected", "store_id", "detected_at"),
        # The anomalies list, newest first by (detected_at, id): a batch's anomalies share one
        # detected_at, so the id is in the index too and a page reads only its own rows.
        sa.Index("ix_anomaly_detected", "detected_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30), index=True)
    store_id: Mapped[int] = mapped_column(sa.ForeignKey("store.id"))
    register_id: Mapped[int] = mapped_column(sa.ForeignKey("register.id"), index=True)
    # The transaction that showed it; a gap has the one after it.
    pos_transaction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("pos_transaction.id"), index=True
    )
    # The shift statement it is about, for the reconciliation's kinds.
    shift_statement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("shift_statement.id"), index=True
    )
    message: Mapped[str] = mapped_column(sa.Text)
    # What the rule compared, e.g. {"missing": [41, 42]} or {"expected": "4.99", "found": "3.99"}.
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the data itself answered it, e.g. the missing sequence numbers arrived later.
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_status: Mapped[str] = mapped_column(sa.String(12), default=REVIEW_OPEN, index=True)

    store: Mapped[Store] = relationship()
    register: Mapped[Register] = relationship()
    pos_transaction: Mapped[PosTransaction | None] = relationship()
    shift_statement: Mapped[ShiftStatement | None] = relationship()


class Review(db.Model):
    """An auditor's verdict on a transaction or an anomaly, with a comment; never edited."""

    __tablename__ = "review"
    __table_args__ = (sa.Index("ix_review_subject", "subject", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(12))
    subject_id: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(12))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    actor: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
