"""JSON API of the webhooks that notifications are sent to, and of the notifications."""

import marshmallow as ma
from flask.views import MethodView

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import ListArgsSchema, api_blueprint, errors, page_schema
from portal.core.arguments import StrictBoolean
from portal.core.pagination import keyset_page_desc
from portal.core.resources import Guards, Schemas, Service, crud_routes
from portal.distribution import alerts, webhooks
from portal.distribution.alert_models import EVENTS, Notification, Webhook, WebhookDelivery

webhooks_blp = api_blueprint(
    "webhooks_api",
    __name__,
    "/webhooks",
    "Webhooks: addresses notifications are sent to, each body signed with HMAC-SHA256 of the "
    "webhook's secret in the `X-HQ-Signature: sha256=<hex>` header.",
)
notifications_blp = api_blueprint(
    "notifications_api",
    __name__,
    "/notifications",
    "Notifications: failed runs, sessions that ended failed, databases behind for too long.",
)


class WebhookSchema(ma.Schema):
    """A webhook: where notifications of which events go, signed with its secret."""

    id = ma.fields.Integer(dump_only=True)
    url = ma.fields.String(required=True, metadata={"example": "https://ops.example.com/hq"})
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENTS)),
        metadata={"description": "Events sent; all by default", "example": list(EVENTS)},
    )
    secret = ma.fields.String(
        required=True,
        load_only=True,
        metadata={"description": "Signs each body (16 to 200 characters); never shown again"},
    )
    active = StrictBoolean(metadata={"description": "An inactive webhook is sent nothing"})
    created_at = ma.fields.DateTime(dump_only=True)


class WebhookUpdateSchema(WebhookSchema):
    """A webhook's fields to change."""


class DeliveryTrySchema(ma.Schema):
    """One try of a delivery."""

    tried_at = ma.fields.DateTime()
    response_status = ma.fields.Integer(
        allow_none=True, metadata={"description": "The receiver's HTTP status; null: no answer"}
    )
    error = ma.fields.String(metadata={"description": "Empty when the receiver took it"})


class DeliverySchema(ma.Schema):
    """One notification sent to a webhook, and what the receiver answered."""

    id = ma.fields.Integer()
    notification = ma.fields.Integer(attribute="notification_id")
    event = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["pending", "delivered", "failed"]})
    attempts = ma.fields.Integer()
    response_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String()
    created_at = ma.fields.DateTime()
    next_attempt_at = ma.fields.DateTime(allow_none=True)
    delivered_at = ma.fields.DateTime(allow_none=True)
    tries = ma.fields.List(
        ma.fields.Nested(DeliveryTrySchema), metadata={"description": "Oldest first"}
    )


class NotificationSchema(ma.Schema):
    """Something that needs a scheduler's attention."""

    id = ma.fields.Integer()
    event = ma.fields.String(metadata={"enum": list(EVENTS)})
    subject = ma.fields.String()
    message = ma.fields.String()
    run = ma.fields.Integer(attribute="run_id", allow_none=True)
    channel_database = ma.fields.Integer(attribute="channel_database_id", allow_none=True)
    session = ma.fields.Integer(attribute="session_id", allow_none=True)
    job = ma.fields.String(attribute="job_number", allow_none=True)
    created_at = ma.fields.DateTime()
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)


class NotificationListArgsSchema(ListArgsSchema):
    """Notification filters."""

    event = ma.fields.String(validate=ma.validate.OneOf(EVENTS))
    all = ma.fields.Boolean(
        load_default=False, metadata={"description": "Resolved ones too (open only by default)"}
    )


WebhookPageSchema = page_schema(WebhookSchema, "WebhookPage")
DeliveryPageSchema = page_schema(DeliverySchema, "WebhookDeliveryPage")
NotificationPageSchema = page_schema(NotificationSchema, "NotificationPage")


crud_routes(
    webhooks_blp,
    ("Webhooks", "WebhookItem", "/<int:webhook_id>"),
    Guards.of(api_permission_required, Permission.CHANGE_SCHEDULES, Permission.CHANGE_SCHEDULES),
    """The webhooks.

    GET: List webhooks by id, optionally searching their address.
    POST: Add a webhook: its URL, the events it wants (all by default) and a secret.
    """,
    """One webhook.

    GET: Show a webhook (never its secret).
    PATCH: Change a webhook's URL, events, secret or whether it is active.
    DELETE: Delete a webhook and its delivery log.
    """,
    Schemas(WebhookPageSchema, WebhookSchema, WebhookUpdateSchema(partial=True)),
    Service(
        lambda args: webhooks.webhooks_query(args.get("q")),
        Webhook.id,
        webhooks.create_webhook,
        webhooks.get_webhook,
        webhooks.update_webhook,
        webhooks.delete_webhook,
    ),
    patch_errors=(400, 401, 403, 404),
)


@webhooks_blp.route("/<int:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    """A webhook's delivery log."""

    @api_permission_required(Permission.CHANGE_SCHEDULES)
    @webhooks_blp.arguments(ListArgsSchema, location="query")
    @webhooks_blp.response(200, DeliveryPageSchema)
    @errors(webhooks_blp, 401, 403, 404)
    def get(self, args, webhook_id):
        """List a webhook's deliveries, newest first: status, tries, the receiver's answer."""
        stmt = webhooks.deliveries_query(webhooks.get_webhook(webhook_id))
        keys = (WebhookDelivery.created_at, WebhookDelivery.id)
        items, next_cursor = keyset_page_desc(stmt, keys, args.get("cursor"), args["limit"])
        return {"items": items, "next": next_cursor}


@notifications_blp.route("")
class Notifications(MethodView):
    """The notifications."""

    @api_permission_required(Permission.READ_SETUP)
    @notifications_blp.arguments(NotificationListArgsSchema, location="query")
    @notifications_blp.response(200, NotificationPageSchema)
    @errors(notifications_blp, 401, 403)
    def get(self, args):
        """List notifications newest first: open ones, or all with `all=true`."""
        stmt = alerts.notifications_query(not args["all"], args.get("event"))
        keys = (Notification.created_at, Notification.id)
        items, next_cursor = keyset_page_desc(stmt, keys, args.get("cursor"), args["limit"])
        return {"items": items, "next": next_cursor}
