"""Notifications that need a scheduler's attention, and the webhooks they are sent to."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.extensions import db
from portal.core.models import Timestamped, UTCDateTime, utcnow
from portal.setup.models import ChannelDatabase

RUN_FAILED = "run_failed"
SESSION_FAILED = "session_failed"
DATABASE_BEHIND = "database_behind"
EVENTS = (RUN_FAILED, SESSION_FAILED, DATABASE_BEHIND)

DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"


class Notification(db.Model):
    """Something that went wrong: open until it clears (a database caught up) or is dismissed."""

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_open", "resolved_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(30))
    # What it is about, e.g. "run:12": one open notification per subject and event.
    subject: Mapped[str] = mapped_column(sa.String(60), index=True)
    message: Mapped[str] = mapped_column(sa.Text, default="")
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("distribution_run.id"), index=True)
    channel_database_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("channel_database.id"), index=True
    )
    # Sessions are pruned after the history days; the notification keeps only their number.
    session_id: Mapped[int | None] = mapped_column()
    job_number: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(254))

    channel_database: Mapped[ChannelDatabase | None] = relationship()


class Webhook(Timestamped, db.Model):
    """An address HQ has notifications sent to, signed with its secret."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Kept as given: signing needs it. It is never shown again once saved.
    secret: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)


class WebhookDelivery(db.Model):
    """One notification sent (or being sent) to one webhook: the delivery log."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook.id"), index=True)
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notification.id"), index=True)
    event: Mapped[str] = mapped_column(sa.String(30))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(12), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    response_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    webhook: Mapped[Webhook] = relationship()
    notification: Mapped[Notification] = relationship()
    tries: Mapped[list[WebhookDeliveryTry]] = relationship(
        order_by="WebhookDeliveryTry.id", viewonly=True
    )


class WebhookDeliveryTry(db.Model):
    """One try of a delivery: when, and what the receiver answered (or why none came)."""

    __tablename__ = "webhook_delivery_try"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    tried_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response_status: Mapped[int | None] = mapped_column()
    error: Mapped[str] = mapped_column(sa.Text, default="")
