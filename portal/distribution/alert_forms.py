"""Forms of the webhooks that notifications are sent to."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import InputRequired

from portal.distribution.alert_models import EVENTS, Webhook


class WebhookForm(FlaskForm):
    """A webhook's address, events, secret and whether it is active."""

    url = StringField(
        "URL",
        validators=[InputRequired()],
        render_kw={"maxlength": 2000, "inputmode": "url", "spellcheck": "false"},
        description="HQ POSTs each notification here as JSON.",
    )
    events = SelectMultipleField(
        "Events",
        choices=[SelectChoice(event, event.replace("_", " ").capitalize()) for event in EVENTS],
        validate_choice=False,
        render_kw={"size": len(EVENTS)},
        description="Which notifications are sent. Hold Ctrl (or Cmd) to choose several.",
    )
    secret = PasswordField(
        "Secret",
        render_kw={"maxlength": 200, "autocomplete": "new-password"},
        description="16 to 200 characters. Each body is signed with it: the header "
        "X-HQ-Signature: sha256=<HMAC-SHA256 of the body, in hex>. It is never shown again.",
    )
    active = BooleanField(
        "Active", default=True, description="An inactive webhook is sent nothing."
    )

    @staticmethod
    def initial(webhook: Webhook) -> dict:
        """The form's values for an existing webhook (its secret stays unshown)."""
        return {"url": webhook.url, "events": list(webhook.events), "active": webhook.active}

    def to_data(self, keep_secret: bool) -> dict:
        """The fields as the webhook service takes them; an empty secret on edit keeps it."""
        data = {
            "url": self.url.data,
            "events": list(self.events.data or []),
            "active": self.active.data,
        }
        if self.secret.data or not keep_secret:
            data["secret"] = self.secret.data or ""
        return data
