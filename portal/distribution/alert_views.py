"""Pages of the notifications and of the webhooks they are sent to."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.web import attempt, form_page, paginate
from portal.distribution import alerts, webhooks
from portal.distribution.alert_forms import WebhookForm
from portal.distribution.alert_models import EVENTS

bp = Blueprint("alerts", __name__, url_prefix="/alerts")


@bp.get("/notifications")
@permission_required(Permission.READ_SETUP)
def notifications():
    """Open notifications newest first (or all of them), filtered by event."""
    show_all = request.args.get("all") == "1"
    event = request.args.get("event") if request.args.get("event") in EVENTS else None
    page = paginate(alerts.notifications_query(not show_all, event))
    return render_template(
        "distribution/notifications.html", page=page, show_all=show_all, event=event, events=EVENTS
    )


@bp.post("/notifications/<int:notification_id>/dismiss")
@permission_required(Permission.RETRY_BUILDS)
def dismiss(notification_id: int):
    """Mark a notification dealt with."""
    notification = alerts.get_notification(notification_id)
    if attempt(lambda: alerts.dismiss(notification)):
        flash(f"Notification {notification_id} dismissed.", "success")
    return redirect(request.form.get("next") or url_for(".notifications"))


@bp.get("/webhooks")
@permission_required(Permission.CHANGE_SCHEDULES)
def webhooks_page():
    """The webhooks notifications are sent to."""
    return render_template(
        "distribution/webhooks.html", page=paginate(webhooks.webhooks_query(request.args.get("q")))
    )


@bp.route("/webhooks/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def create_webhook():
    """Add a webhook."""
    form = WebhookForm(data={"events": list(EVENTS), "active": True})
    return form_page(
        form,
        lambda: webhooks.create_webhook(form.to_data(keep_secret=False)),
        lambda hook: ("Webhook added.", url_for(".webhook", webhook_id=hook.id)),
        "distribution/webhooks_form.html",
        webhook=None,
    )


@bp.get("/webhooks/<int:webhook_id>")
@permission_required(Permission.CHANGE_SCHEDULES)
def webhook(webhook_id: int):
    """A webhook and its delivery log."""
    hook = webhooks.get_webhook(webhook_id)
    return render_template(
        "distribution/webhooks_detail.html",
        webhook=hook,
        page=paginate(webhooks.deliveries_query(hook)),
    )


@bp.route("/webhooks/<int:webhook_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def edit_webhook(webhook_id: int):
    """Change a webhook; an empty secret keeps the one it has."""
    hook = webhooks.get_webhook(webhook_id)
    form = WebhookForm(data=WebhookForm.initial(hook))
    return form_page(
        form,
        lambda: webhooks.update_webhook(hook, form.to_data(keep_secret=True)),
        lambda hook: ("Webhook saved.", url_for(".webhook", webhook_id=hook.id)),
        "distribution/webhooks_form.html",
        webhook=hook,
    )


@bp.route("/webhooks/<int:webhook_id>/delete", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SCHEDULES)
def delete_webhook(webhook_id: int):
    """Confirm, then delete a webhook and its delivery log."""
    hook = webhooks.get_webhook(webhook_id)
    if request.method == "GET":
        return render_template("distribution/webhooks_delete.html", webhook=hook)
    if attempt(lambda: webhooks.delete_webhook(hook)):
        flash("Webhook deleted.", "success")
    return redirect(url_for(".webhooks_page"))
