"""Webhooks: where HQ has notifications sent, each body signed with the webhook's secret.

A delivery is tried at once, then again with a growing pause (by Celery) until it succeeds or
its tries run out; every delivery is kept with what the receiver answered.
"""

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from portal.audit import services as audit
from portal.core.errors import NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.validation import FieldErrors
from portal.distribution.alert_models import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    EVENTS,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryTry,
)

SIGNATURE_HEADER = "X-HQ-Signature"
MAX_TRIES = 6
TIMEOUT_S = 10
SECRET_MIN, SECRET_MAX = 16, 200


def backoff(tries: int) -> int:
    """Seconds to wait before the try after `tries` failed ones: 30 s, 1, 2, 4, 8 minutes.

    The first pause is WEBHOOK_RETRY_SECONDS (30 by default).
    """
    return current_app.config["WEBHOOK_RETRY_SECONDS"] * 2 ** max(tries - 1, 0)


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for a body: `sha256=` and the HMAC-SHA256 in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def get_webhook(webhook_id: int) -> Webhook:
    """The webhook with this id, or NotFound."""
    webhook = db.session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"Webhook {webhook_id} does not exist.")
    return webhook


def webhooks_query(q: str | None = None) -> sa.Select:
    """Webhooks by id, optionally those whose address contains `q`."""
    stmt = sa.select(Webhook).order_by(Webhook.id)
    if q:
        stmt = stmt.where(Webhook.url.contains(q.strip(), autoescape=True))
    return stmt


def create_webhook(data: dict) -> Webhook:
    """Add a webhook: its address, the events it wants and its secret; audited."""
    webhook = Webhook(active=True, events=list(EVENTS))
    _apply(webhook, data, new=True)
    db.session.add(webhook)
    db.session.flush()
    audit.record("create", "webhook", str(webhook.id), after=_snapshot(webhook))
    return webhook


def update_webhook(webhook: Webhook, data: dict) -> Webhook:
    """Change a webhook's address, events, secret or whether it is active; audited."""
    before = _snapshot(webhook)
    _apply(webhook, data, new=False)
    db.session.flush()
    audit.record("update", "webhook", str(webhook.id), before, _snapshot(webhook))
    return webhook


def delete_webhook(webhook: Webhook) -> None:
    """Delete a webhook and its delivery log; audited."""
    audit.record("delete", "webhook", str(webhook.id), before=_snapshot(webhook))
    sent = sa.select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook.id)
    db.session.execute(
        sa.delete(WebhookDeliveryTry).where(WebhookDeliveryTry.delivery_id.in_(sent))
    )
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    db.session.delete(webhook)
    db.session.flush()


def deliveries_query(webhook: Webhook) -> sa.Select:
    """A webhook's deliveries, newest first, each with its tries."""
    return (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook.id)
        .options(selectinload(WebhookDelivery.tries))
        .order_by(WebhookDelivery.id.desc())
    )


def _snapshot(webhook: Webhook) -> dict:
    # The secret stays out of the audit trail; that it changed is enough.
    values = audit.snapshot(webhook)
    values["secret"] = hashlib.sha256(webhook.secret.encode()).hexdigest()[:12]
    return values


def _apply(webhook: Webhook, data: dict, new: bool) -> None:
    errors = FieldErrors()
    if "url" in data or new:
        with errors.check():
            webhook.url = check_url(data.get("url"))
    if "events" in data:
        with errors.check():
            webhook.events = check_events(data["events"])
    if "secret" in data or new:
        with errors.check():
            webhook.secret = check_secret(data.get("secret"))
    if "active" in data:
        webhook.active = bool(data["active"])
    errors.raise_if_any()


def check_url(value) -> str:
    """An http(s) address with a host; else ValidationFailed."""
    url = (value or "").strip() if isinstance(value, str) else ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ValidationFailed(
            "The webhook's address is not an http or https URL.",
            {"url": "An address such as https://example.com/hooks/hq (at most 2000 characters)."},
        )
    return url


def check_events(value) -> list[str]:
    """At least one of the known events, each once, in their usual order."""
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(
            "Choose at least one event.", {"events": f"Some of: {', '.join(EVENTS)}."}
        )
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        raise ValidationFailed("Unknown event.", {"events": f"Choose from: {', '.join(EVENTS)}."})
    return [e for e in EVENTS if e in value]


def check_secret(value) -> str:
    """A secret long enough to sign with."""
    secret = value.strip() if isinstance(value, str) else ""
    if not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise ValidationFailed(
            "The webhook's secret is too short or too long.",
            {"secret": f"{SECRET_MIN} to {SECRET_MAX} characters."},
        )
    return secret


def deliver(delivery_id: int) -> int | None:
    """Send a pending delivery once; returns seconds to wait before the next try, or None.

    Moves the delivery to delivered on a 2xx answer, to failed once its tries are used up.
    """
    delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != DELIVERY_PENDING:
        return None
    webhook = delivery.webhook
    body = delivery.body.encode()
    delivery.attempts += 1
    delivered = False
    try:
        answer = httpx.post(
            webhook.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(webhook.secret, body),
                "X-HQ-Event": delivery.event,
                "X-HQ-Delivery": str(delivery.id),
            },
            timeout=TIMEOUT_S,
            follow_redirects=False,
        )
    except httpx.HTTPError as error:
        delivery.response_status, delivery.last_error = None, f"{type(error).__name__}: {error}"
    else:
        delivery.response_status, delivered = answer.status_code, answer.is_success
        delivery.last_error = (
            "" if answer.is_success else f"Answered {answer.status_code}: {answer.text[:200]}"
        )
    db.session.add(
        WebhookDeliveryTry(
            delivery_id=delivery.id,
            response_status=delivery.response_status,
            error=delivery.last_error,
        )
    )
    if delivered:
        delivery.status, delivery.delivered_at = DELIVERY_DELIVERED, utcnow()
        delivery.next_attempt_at = None
        return None
    if delivery.attempts >= MAX_TRIES or not webhook.active:
        delivery.status, delivery.next_attempt_at = DELIVERY_FAILED, None
        return None
    wait = backoff(delivery.attempts)
    delivery.next_attempt_at = utcnow() + timedelta(seconds=wait)
    return wait


def overdue(grace: timedelta) -> list[int]:
    """Pending deliveries whose next try is `grace` overdue (their task was lost): to resend."""
    return list(
        db.session.scalars(
            sa.select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == DELIVERY_PENDING,
                WebhookDelivery.next_attempt_at < utcnow() - grace,
            )
            .order_by(WebhookDelivery.id)
            .limit(500)
        )
    )
