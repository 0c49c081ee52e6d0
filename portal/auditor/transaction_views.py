"""The auditor's pages of received transactions and the upload sessions that brought them."""

import sqlalchemy as sa
from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import joinedload, selectinload

from portal.auditor import bulk_pages, diff, export, names, reviews
from portal.auditor.forms import (
    BulkReviewForm,
    ReviewForm,
    TransactionFilterForm,
    TransactionReviewForm,
    UploadSessionFilterForm,
)
from portal.auditor.models import SUBJECT_TRANSACTION, Anomaly
from portal.auditor.transaction_queries import (
    LIST_ORDER,
    transactions_query,
    upload_sessions_query,
)
from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.downloads import csv_response, wants_csv
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.money import money
from portal.core.web import cursor_page, submit
from portal.setup.models import ChannelDatabase
from portal.transactions.models import PosTransaction, TransactionConflict, UploadSession

bp = Blueprint("transactions", __name__)


@bp.get("/transactions/")
@permission_required(Permission.READ_TRANSACTIONS)
def index():
    """Received transactions, newest first, filtered as the auditor asks."""
    form = TransactionFilterForm(request.args)
    form.validate()
    stmt = transactions_query(form.filters())
    if wants_csv():
        return _export(stmt)
    return _list_page(form, stmt, BulkReviewForm(formdata=None))


@bp.post("/transactions/review")
@permission_required(Permission.REVIEW_TRANSACTIONS)
def review_many():
    """One verdict on the ticked transactions, or on all the list's filter matches."""
    form = TransactionFilterForm(request.args)
    form.validate()
    bulk = BulkReviewForm()
    if bulk_pages.submit(SUBJECT_TRANSACTION, form.filters(), bulk):
        return redirect(url_for("transactions.index", **form.args()), 303)
    return _list_page(form, transactions_query(form.filters()), bulk), 422


def _list_page(form: TransactionFilterForm, stmt: sa.Select, bulk: BulkReviewForm):
    count, more = bulk_pages.matching(stmt)
    stmt = stmt.options(joinedload(PosTransaction.store), joinedload(PosTransaction.register))
    page = cursor_page(stmt, LIST_ORDER, form.args())
    staff = names.staff_names({sale.staff for sale in page.items})
    return render_template(
        "transactions/index.html",
        staff=staff,
        form=form,
        page=page,
        bulk=bulk,
        count=count,
        more=more,
        anomalies=_anomaly_kinds([sale.id for sale in page.items]),
        export_args=form.args() | {"format": "csv"},
    )


@bp.get("/transactions/export.csv")
@permission_required(Permission.READ_TRANSACTIONS)
def export_csv():
    """The filtered transactions as a CSV download."""
    form = TransactionFilterForm(request.args)
    form.validate()
    return _export(transactions_query(form.filters()))


def _export(stmt: sa.Select):
    name = export.filename("transactions", utcnow().date())
    return csv_response(name, export.TRANSACTION_HEADER, export.transaction_rows(stmt))


def _anomaly_kinds(ids: list[int]) -> dict[int, dict[str, int]]:
    """Per transaction on the page: how many anomalies of each kind it has."""
    kinds: dict[int, dict[str, int]] = {}
    if not ids:
        return kinds
    rows = db.session.execute(
        sa.select(Anomaly.pos_transaction_id, Anomaly.kind, sa.func.count())
        .where(Anomaly.pos_transaction_id.in_(ids))
        .group_by(Anomaly.pos_transaction_id, Anomaly.kind)
    )
    for sale_id, kind, count in rows:
        kinds.setdefault(sale_id, {})[kind] = count
    return kinds


@bp.get("/transactions/<int:pos_transaction_id>")
@permission_required(Permission.READ_TRANSACTIONS)
def detail(pos_transaction_id: int):
    """Everything HQ knows about one transaction, and the form to review it."""
    return _detail(_get_sale(pos_transaction_id), TransactionReviewForm())


@bp.post("/transactions/<int:pos_transaction_id>/review")
@permission_required(Permission.REVIEW_TRANSACTIONS)
def review(pos_transaction_id: int):
    """Record the auditor's verdict on the transaction; its content stays as received."""
    sale = _get_sale(pos_transaction_id)
    form = TransactionReviewForm()
    recorded = submit(
        form,
        lambda: reviews.review(
            SUBJECT_TRANSACTION,
            sale.id,
            form.status.data,
            form.comment.data or "",
            resolve_anomalies=bool(form.resolve_anomalies.data),
        ),
    )
    if recorded is None:
        return _detail(sale, form), 422
    flash(f"Transaction {sale.receipt_number} is marked {recorded.status}.", "success")
    return redirect(url_for("transactions.detail", pos_transaction_id=sale.id))


def _get_sale(transaction_id: int) -> PosTransaction:
    sale = db.session.get(
        PosTransaction,
        transaction_id,
        options=[selectinload(PosTransaction.lines), selectinload(PosTransaction.payments)],
    )
    if sale is None:
        raise NotFound(f"Transaction {transaction_id} does not exist.")
    return sale


def _detail(sale: PosTransaction, form: ReviewForm):
    anomalies = db.session.scalars(
        sa.select(Anomaly)
        .where(Anomaly.pos_transaction_id == sale.id)
        .order_by(Anomaly.detected_at, Anomaly.id)
    )
    conflicts = list(
        db.session.scalars(
            sa.select(TransactionConflict)
            .where(TransactionConflict.pos_transaction_id == sale.id)
            .order_by(TransactionConflict.id)
        )
    )
    return render_template(
        "transactions/detail.html",
        sale=sale,
        local=export.local_time(sale),
        session=db.session.get(UploadSession, sale.upload_session_id),
        anomalies=list(anomalies),
        conflicts=conflicts,
        diffs={c.id: diff.compare(diff.stored_version(sale), c.payload) for c in conflicts},
        products=names.product_names({line.product for line in sale.lines}),
        staff=names.staff_names({sale.staff}),
        receipt=names.tax_summary(sale.lines),
        history=reviews.history(SUBJECT_TRANSACTION, sale.id),
        form=form,
    )


@bp.get("/upload-sessions/")
@permission_required(Permission.READ_TRANSACTIONS)
def upload_sessions():
    """The batches devices uploaded, newest first, with their outcome counts."""
    form = UploadSessionFilterForm(request.args)
    form.validate()
    stmt = upload_sessions_query(form.filters())
    if wants_csv():
        name = export.filename("upload-sessions", utcnow().date())
        rows = export.upload_session_rows(stmt)
        return csv_response(name, export.UPLOAD_SESSION_HEADER, rows)
    stmt = stmt.options(
        joinedload(UploadSession.channel_database).joinedload(ChannelDatabase.store)
    )
    page = cursor_page(stmt, (UploadSession.received_at, UploadSession.id), form.args())
    export_args = form.args() | {"format": "csv"}
    return render_template(
        "transactions/upload_sessions.html", form=form, page=page, export_args=export_args
    )


@bp.get("/upload-sessions/<int:session_id>")
@permission_required(Permission.READ_TRANSACTIONS)
def upload_session(session_id: int):
    """One upload batch: its counts, and why each refused transaction was refused."""
    session = db.session.get(UploadSession, session_id)
    if session is None:
        raise NotFound(f"Upload session {session_id} does not exist.")
    results = (session.response or {}).get("results", [])
    refused = [result for result in results if result.get("status") in ("rejected", "conflict")]
    return render_template("transactions/upload_session.html", session=session, refused=refused)


@bp.app_template_filter("money")
def money_filter(value, currency: str | None = None) -> str:
    """An amount in its store's currency, with symbol and decimals."""
    return money(value, currency)


@bp.app_template_filter("amount")
def amount(value) -> str:
    """An amount as exact text: two places when that loses nothing."""
    return export.amount(value)


@bp.app_template_filter("register_time")
def register_time(sale: PosTransaction) -> str:
    """When the register made the sale, on its clock: '2026-11-20 14:03:11 (UTC+01:00)'."""
    local = export.local_time(sale)
    return f"{local:%Y-%m-%d %H:%M:%S} ({local:%Z})"
