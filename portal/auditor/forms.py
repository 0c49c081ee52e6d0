"""Forms of the auditor's transaction pages: the list's filters and the review of a sale."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Length, Optional

from portal.auditor.models import ANOMALY_KINDS, REVIEW_ACTIONS, REVIEW_STATUSES
from portal.auditor.reviews import MAX_COMMENT
from portal.core.forms import AmountField, DayField
from portal.transactions.models import TRANSACTION_KINDS, UPLOAD_STATUSES

ANY = SelectChoice("", "Any")
OFFLINE_CHOICES = [ANY, SelectChoice("offline", "Offline"), SelectChoice("online", "Online")]


def choices(values) -> list[tuple[str, str]]:
    """Select choices for codes, "Any" first; labels as people read them."""
    return [ANY, *(SelectChoice(value, value.replace("_", " ").capitalize()) for value in values)]


class FilterForm(FlaskForm):
    """A filter read from the query string: no CSRF token, since it changes nothing."""

    class Meta:
        csrf = False

    def filters(self) -> dict:
        """The query's filter dict from the valid fields; a field in error filters nothing."""
        return {
            name: self.convert(name, field.data)
            for name, field in self._fields.items()
            if not field.errors and field.data not in (None, "")
        }

    def convert(self, name: str, value):
        """The query's value of a field."""
        return value

    def args(self) -> dict:
        """The filter as query arguments, for links that keep it (paging, export)."""
        return {
            name: field._value() if hasattr(field, "_value") else field.data
            for name, field in self._fields.items()
            if field.data not in (None, "") and not field.errors
        }


class TransactionFilterForm(FilterForm):
    """What an auditor narrows the transactions to."""

    q = StringField("Receipt or transaction id", validators=[Optional(), Length(max=40)])
    store = StringField("Store", validators=[Optional(), Length(max=30)])
    register = StringField("Register", validators=[Optional(), Length(max=30)])
    date_from = DayField("From", validators=[Optional()])
    date_to = DayField("To", validators=[Optional()])
    offline = SelectField("Offline", choices=OFFLINE_CHOICES, default="")
    staff = StringField("Staff", validators=[Optional(), Length(max=30)])
    min_total = AmountField("Total from", places=None, validators=[Optional()])
    max_total = AmountField("Total up to", places=None, validators=[Optional()])
    review_status = SelectField("Review status", choices=choices(REVIEW_STATUSES), default="")
    anomaly = SelectField("Anomaly", choices=choices(ANOMALY_KINDS), default="")
    kind = SelectField("Kind", choices=choices(TRANSACTION_KINDS), default="")

    def convert(self, name: str, value):
        if name == "offline":
            return value == "offline"
        if name in ("store", "register"):
            return value.strip().upper()
        return value.strip() if isinstance(value, str) else value


class UploadSessionFilterForm(FilterForm):
    """Which upload sessions to list."""

    store = StringField("Store", validators=[Optional(), Length(max=30)])
    status = SelectField("Status", choices=choices(UPLOAD_STATUSES), default="")

    def convert(self, name: str, value):
        return value.strip().upper() if name == "store" else value


class ReviewForm(FlaskForm):
    """An auditor's verdict with a comment; the review service checks the rules."""

    status = SelectField(
        "Review status",
        choices=[SelectChoice(status, status.capitalize()) for status in REVIEW_ACTIONS],
        validators=[AnyOf(REVIEW_ACTIONS)],
    )
    comment = TextAreaField("Comment", validators=[Length(max=MAX_COMMENT)])


class TransactionReviewForm(ReviewForm):
    """A verdict on a transaction, which may resolve its open anomalies with it."""

    resolve_anomalies = BooleanField("Also resolve its open anomalies")


class BulkReviewForm(FlaskForm):
    """One verdict on the rows ticked on a list, or on every row its filter matches."""

    all_matching = BooleanField("All matching this filter")
    status = SelectField(
        "Review status",
        choices=[SelectChoice(status, status.capitalize()) for status in REVIEW_ACTIONS],
        validators=[AnyOf(REVIEW_ACTIONS)],
    )
    comment = TextAreaField("Comment", validators=[Length(max=MAX_COMMENT)])
    resolve_anomalies = BooleanField("Resolve their open anomalies too")
