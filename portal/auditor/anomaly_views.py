"""The auditor workspace: anomalies and their review, the dashboard and the store summary."""

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import joinedload

from portal.auditor import bulk_pages, charts, export, reviews
from portal.auditor.anomaly_forms import AnomalyFilterForm, PeriodForm
from portal.auditor.anomaly_queries import anomalies_query
from portal.auditor.forms import BulkReviewForm, ReviewForm
from portal.auditor.models import SUBJECT_ANOMALY, Anomaly
from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.downloads import csv_response, wants_csv
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.web import cursor_page, submit

bp = Blueprint("anomalies", __name__)


@bp.get("/anomalies/")
@permission_required(Permission.READ_TRANSACTIONS)
def index():
    """Anomalies found in the uploads, newest first, filtered as the auditor asks."""
    form = AnomalyFilterForm(request.args)
    form.validate()
    stmt = anomalies_query(form.filters())
    if wants_csv():
        name = export.filename("anomalies", utcnow().date())
        return csv_response(name, export.ANOMALY_HEADER, export.anomaly_rows(stmt))
    return _list_page(form, stmt, BulkReviewForm(formdata=None))


@bp.post("/anomalies/review")
@permission_required(Permission.REVIEW_TRANSACTIONS)
def review_many():
    """One verdict on the ticked anomalies, or on all the list's filter matches."""
    form = AnomalyFilterForm(request.args)
    form.validate()
    bulk = BulkReviewForm()
    if bulk_pages.submit(SUBJECT_ANOMALY, form.filters(), bulk):
        return redirect(url_for("anomalies.index", **form.args()), 303)
    return _list_page(form, anomalies_query(form.filters()), bulk), 422


def _list_page(form: AnomalyFilterForm, stmt, bulk: BulkReviewForm):
    count, more = bulk_pages.matching(stmt)
    stmt = stmt.options(
        joinedload(Anomaly.store),
        joinedload(Anomaly.register),
        joinedload(Anomaly.pos_transaction),
        joinedload(Anomaly.shift_statement),
    )
    page = cursor_page(stmt, (Anomaly.detected_at, Anomaly.id), form.args())
    return render_template(
        "anomalies/index.html",
        form=form,
        page=page,
        bulk=bulk,
        count=count,
        more=more,
        export_args=form.args() | {"format": "csv"},
    )


@bp.route("/anomalies/<int:anomaly_id>/review", methods=["GET", "POST"])
@permission_required(Permission.REVIEW_TRANSACTIONS)
def review(anomaly_id: int):
    """Show an anomaly with its review history, and record the auditor's verdict on it."""
    anomaly = db.session.get(Anomaly, anomaly_id)
    if anomaly is None:
        raise NotFound(f"Anomaly {anomaly_id} does not exist.")
    form = ReviewForm()
    recorded = submit(
        form,
        lambda: reviews.review(SUBJECT_ANOMALY, anomaly.id, form.status.data, form.comment.data),
    )
    if recorded is not None:
        flash(f"Anomaly {anomaly.id} is marked {recorded.status}.", "success")
        return redirect(url_for("anomalies.index"))
    page = render_template(
        "anomalies/review.html",
        anomaly=anomaly,
        form=form,
        history=reviews.history(SUBJECT_ANOMALY, anomaly.id),
    )
    return page, 422 if form.is_submitted() else 200


@bp.get("/auditor/")
@permission_required(Permission.READ_TRANSACTIONS)
def dashboard():
    """Open anomalies per kind and the three charts of the auditor's workspace."""
    now = utcnow()
    figures = {
        "offline_sales": charts.offline_sales_chart(now),
        "anomalies": charts.anomalies_chart(),
        "upload_delay": charts.upload_delay_chart(now),
    }
    return render_template(
        "anomalies/dashboard.html",
        open_counts=charts.open_anomalies_per_kind(),
        figures=figures,
        days=charts.CHART_DAYS,
    )


@bp.get("/auditor/stores")
@permission_required(Permission.READ_TRANSACTIONS)
def stores():
    """Per store, for a period: transactions, their value, the offline share and anomalies."""
    form = PeriodForm(request.args)
    if not request.args.get("date_from") and not request.args.get("date_to"):
        # Without a period the sums would read every sale ever uploaded: the last 30 days.
        today = utcnow().date()
        form.date_from.data = today - timedelta(days=charts.CHART_DAYS - 1)
        form.date_to.data = today
    form.validate()
    period = form.filters()
    summaries = charts.store_summaries(period.get("date_from"), period.get("date_to"))
    if wants_csv():
        name = export.filename("store-summary", utcnow().date())
        return csv_response(name, export.STORE_HEADER, export.store_rows(summaries))
    return render_template(
        "anomalies/stores.html",
        form=form,
        summaries=summaries,
        totals=charts.totals_per_currency(summaries),
        export_args=form.args() | {"format": "csv"},
    )
