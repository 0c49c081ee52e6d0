"""Forms of the anomaly pages: the list's filters and the auditor-workspace period."""

from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from portal.auditor.forms import ANY, FilterForm, choices
from portal.auditor.models import ANOMALY_KINDS, REVIEW_STATUSES
from portal.core.forms import DayField


class AnomalyFilterForm(FilterForm):
    """What an auditor narrows the anomalies to."""

    kind = SelectField("Kind", choices=choices(ANOMALY_KINDS), default="")
    store = StringField("Store", validators=[Optional(), Length(max=30)])
    register = StringField("Register", validators=[Optional(), Length(max=30)])
    review_status = SelectField("Review status", choices=choices(REVIEW_STATUSES), default="")
    cleared = SelectField(
        "Cleared",
        choices=[
            ANY,
            SelectChoice("yes", "Cleared by later data"),
            SelectChoice("no", "Not cleared"),
        ],
        default="",
    )

    def convert(self, name: str, value):
        if name == "cleared":
            return value == "yes"
        if name in ("store", "register"):
            return value.strip().upper()
        return value


class PeriodForm(FilterForm):
    """The days a store summary covers, both inclusive."""

    date_from = DayField("From", validators=[Optional()])
    date_to = DayField("To", validators=[Optional()])
