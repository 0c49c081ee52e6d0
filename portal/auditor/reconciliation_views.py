"""The Reconciliation page: per store and day, each shift statement against the sales received."""

from flask import Blueprint, current_app, render_template, request
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from portal.auditor import export
from portal.auditor.forms import FilterForm, choices
from portal.auditor.statement_queries import statements_query, store_days, store_days_query
from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.downloads import csv_response, wants_csv
from portal.core.extensions import db
from portal.core.forms import DayField
from portal.core.models import utcnow
from portal.core.web import MAX_PAGE
from portal.transactions.models import STATEMENT_STATES

bp = Blueprint("reconciliation", __name__)


class ReconciliationFilterForm(FilterForm):
    """What an auditor narrows the shift statements to."""

    store = StringField("Store", validators=[Optional(), Length(max=30)])
    register = StringField("Register", validators=[Optional(), Length(max=30)])
    state = SelectField("State", choices=choices(STATEMENT_STATES), default="")
    date_from = DayField("From", validators=[Optional()])
    date_to = DayField("To", validators=[Optional()])

    def convert(self, name: str, value):
        if name in ("store", "register"):
            return value.strip().upper()
        return value


@bp.get("/auditor/reconciliation")
@permission_required(Permission.READ_TRANSACTIONS)
def index():
    """Shift statements per store and day, the days with most left to account for first."""
    form = ReconciliationFilterForm(request.args)
    form.validate()
    filters = form.filters()
    if wants_csv():
        name = export.filename("reconciliation", utcnow().date())
        return csv_response(
            name, export.STATEMENT_HEADER, export.statement_rows(statements_query(filters))
        )
    per_page = current_app.config["PER_PAGE"]
    number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    rows = db.session.execute(
        store_days_query(filters).limit(per_page + 1).offset((number - 1) * per_page)
    ).all()
    days = store_days(rows[:per_page], filters)
    args = form.args()
    return render_template(
        "anomalies/reconciliation.html",
        form=form,
        days=days,
        newer=args | {"page": number - 1} if number > 1 else None,
        older=args | {"page": number + 1} if len(rows) > per_page else None,
        export_args=args | {"format": "csv"},
    )
