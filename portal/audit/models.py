"""The audit trail: who changed what, when, from where, with before and after values."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class AuditEntry(db.Model):
    """One recorded change to setup data."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_entity", "entity_type", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(254))
    source: Mapped[str] = mapped_column(sa.String(10))
    action: Mapped[str] = mapped_column(sa.String(30))
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_key: Mapped[str] = mapped_column(sa.String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # The bulk change this entry is part of, if any.
    operation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("operation.id"), index=True)


class Operation(db.Model):
    """One bulk change: what it asked for, where it stands, and what it did to how many."""

    __tablename__ = "operation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(10), default=PENDING)
    actor: Mapped[str] = mapped_column(sa.String(254))
    source: Mapped[str] = mapped_column(sa.String(10))
    # What to do, as the service needs it again in a worker: the selected ids and the change.
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    total: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    refusals: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    message: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def progress(self) -> float:
        """The share of the selected records processed so far, 0 to 1."""
        if self.status == DONE:
            return 1.0
        return self.processed / self.total if self.total else 0.0

    @property
    def finished(self) -> bool:
        """Whether the operation will not change anything more."""
        return self.status in (DONE, FAILED)
