"""Notifications: a failed run, a session that ended failed, a database behind for too long.

Each is raised once per subject while it is open, listed for schedulers (the worklist shows
the open ones) and handed to every active webhook that subscribes to its event.
"""

import json
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import parameters, signals
from portal.distribution.alert_models import (
    DATABASE_BEHIND,
    RUN_FAILED,
    SESSION_FAILED,
    Notification,
    Webhook,
    WebhookDelivery,
)
from portal.distribution.models import (
    SESSION_APPLY_FAILED,
    SESSION_AVAILABLE,
    SESSION_DOWNLOADED,
    DownloadSession,
)
from portal.setup.models import ChannelDatabase

# Packages a database has not applied yet (as the devices dashboard counts them): it is behind
# while one waits too long.
WAITING = (SESSION_AVAILABLE, SESSION_DOWNLOADED, SESSION_APPLY_FAILED)
# Deliveries made by this unit of work, sent to the workers once it commits.
PENDING_KEY = "webhook_deliveries"


def init_app(app: Flask) -> None:
    """Raise notifications from the distribution engine's signals."""
    signals.run_failed.connect(on_run_failed)
    signals.session_failed.connect(on_session_failed)


def on_run_failed(sender, *, run_id: int, message: str = "", **_) -> None:
    """A run ended failed."""
    raise_notification(
        RUN_FAILED, f"run:{run_id}", f"Run {run_id} failed. {message}".strip(), run_id=run_id
    )


def on_session_failed(
    sender,
    *,
    session_id: int,
    channel_database_id: int | None = None,
    job_number: str | None = None,
    status: str = "",
    message: str = "",
    **_,
) -> None:
    """A download session ended failed."""
    database = db.session.get(ChannelDatabase, channel_database_id) if channel_database_id else None
    where = f" for {database.name}" if database else ""
    words = status.replace("_", " ").capitalize() or "Failed"
    raise_notification(
        SESSION_FAILED,
        f"session:{session_id}",
        f"{words}: job {job_number} session {session_id}{where}. {message}".strip(),
        channel_database_id=channel_database_id,
        session_id=session_id,
        job_number=job_number,
    )


def raise_notification(event: str, subject: str, message: str, **about) -> Notification | None:
    """Record a notification unless one is open for the subject; queue it for the webhooks."""
    already = db.session.scalar(
        sa.select(Notification.id).where(
            Notification.subject == subject,
            Notification.event == event,
            Notification.resolved_at.is_(None),
        )
    )
    if already is not None:
        return None
    notification = Notification(event=event, subject=subject, message=message[:2000], **about)
    db.session.add(notification)
    db.session.flush()
    body = json.dumps(payload(notification), sort_keys=True)
    for webhook in db.session.scalars(sa.select(Webhook).where(Webhook.active)):
        if event in webhook.events:
            delivery = WebhookDelivery(
                webhook_id=webhook.id, notification_id=notification.id, event=event, body=body
            )
            db.session.add(delivery)
            db.session.flush()
            db.session.info.setdefault(PENDING_KEY, []).append(delivery.id)
    return notification


def payload(notification: Notification) -> dict:
    """What a webhook receives about a notification."""
    return {
        "event": notification.event,
        "notification": {
            "id": notification.id,
            "subject": notification.subject,
            "message": notification.message,
            "run": notification.run_id,
            "channel_database": notification.channel_database_id,
            "session": notification.session_id,
            "job": notification.job_number,
            "created_at": notification.created_at.isoformat(),
        },
    }


def check_behind(now: datetime | None = None) -> tuple[int, int]:
    """Raise for databases with a package waiting past the threshold; clear those caught up.

    Returns how many notifications were raised and resolved.
    """
    now = now or utcnow()
    threshold = timedelta(minutes=parameters.current("device_behind_minutes"))
    behind = {
        database_id: since
        for database_id, since in db.session.execute(
            sa.select(
                DownloadSession.channel_database_id, sa.func.min(DownloadSession.requested_at)
            )
            .where(
                DownloadSession.status.in_(WAITING),
                DownloadSession.requested_at < now - threshold,
            )
            .group_by(DownloadSession.channel_database_id)
        )
    }
    raised = 0
    names = {
        database_id: name
        for database_id, name in db.session.execute(
            sa.select(ChannelDatabase.id, ChannelDatabase.name).where(
                ChannelDatabase.id.in_(list(behind))
            )
        )
    }
    for database_id, since in sorted(behind.items()):
        minutes = int((now - since).total_seconds() // 60)
        message = (
            f"{names.get(database_id, database_id)} has had a package waiting for {minutes} "
            f"minutes (threshold {int(threshold.total_seconds() // 60)})."
        )
        subject = f"database:{database_id}"
        if raise_notification(DATABASE_BEHIND, subject, message, channel_database_id=database_id):
            raised += 1
    caught_up = db.session.execute(
        sa.update(Notification)
        .where(
            Notification.event == DATABASE_BEHIND,
            Notification.resolved_at.is_(None),
            Notification.channel_database_id.not_in(list(behind) or [0]),
        )
        .values(resolved_at=now, resolved_by="system: caught up")
        .execution_options(synchronize_session=False)
    ).rowcount
    return raised, caught_up


def open_notifications(limit: int | None = 50) -> list[Notification]:
    """Open notifications, newest first (for the worklist and the notifications page)."""
    stmt = notifications_query(open_only=True)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def notifications_query(open_only: bool = True, event: str | None = None) -> sa.Select:
    """Notifications newest first, open ones only unless asked, optionally of one event."""
    stmt = sa.select(Notification).order_by(Notification.id.desc())
    if open_only:
        stmt = stmt.where(Notification.resolved_at.is_(None))
    if event:
        stmt = stmt.where(Notification.event == event)
    return stmt


def get_notification(notification_id: int) -> Notification:
    """The notification with this id, or NotFound."""
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        raise NotFound(f"Notification {notification_id} does not exist.")
    return notification


def dismiss(notification: Notification) -> Notification:
    """Mark an open notification dealt with; audited."""
    if notification.resolved_at is not None:
        raise Conflict(f"Notification {notification.id} is already resolved.")
    actor, _ = audit.current_actor()
    notification.resolved_at = utcnow()
    notification.resolved_by = actor
    db.session.flush()
    audit.record(
        "dismiss", "notification", str(notification.id), after={"subject": notification.subject}
    )
    return notification
