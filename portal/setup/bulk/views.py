"""Pages of bulk changes: the confirmation with its preview, the operation's progress, CSV.

A bulk change is posted from the register or store list (its filters, or the ticked rows), shown
as a preview to confirm, made as one operation, and followed on the operation's page.
"""

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from portal.audit import operations
from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.errors import Conflict, DomainError, ValidationFailed
from portal.core.extensions import db
from portal.core.web import filter_fields, query_filters
from portal.setup.bulk import csv_io, runner
from portal.setup.bulk.forms import FILTERS, BulkForm, ImportForm
from portal.setup.hooks import bulk_offline_preview

bp = Blueprint("bulk", __name__)

KEYS = {"registers": "register_numbers", "stores": "store_numbers"}
LISTS = {"registers": "registers.index", "stores": "stores.index"}


def _both(rule: str, **options):
    """Route `rule` under /registers and /stores, as static paths.

    A `<kind>` converter would lose to the lists' own `/stores/<store_number>` pages.
    """

    def decorate(view):
        for kind in ("registers", "stores"):
            bp.add_url_rule(f"/{kind}{rule}", view_func=view, defaults={"kind": kind}, **options)
        return view

    return decorate


@_both("/bulk", methods=["POST"])
@permission_required(Permission.CHANGE_SETUP)
def confirm(kind: str):
    """The preview of a bulk change posted from a list, to confirm before anything changes."""
    form = BulkForm(kind)
    if not form.validate_on_submit():
        flash("Choose what to change.", "danger")
        return redirect(url_for(LISTS[kind]))
    selection, change = form.selection(request.form, KEYS[kind]), form.change()
    try:
        preview = runner.preview(kind, selection, change)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for(LISTS[kind], **_filter_args(kind)))
    return _confirmation(kind, form, preview, selection, second=False)


@_both("/bulk/apply", methods=["POST"])
@permission_required(Permission.CHANGE_SETUP)
def apply(kind: str):
    """Make a confirmed bulk change; cutting off activated devices asks a second time."""
    form = BulkForm(kind)
    if not form.validate_on_submit():
        flash("Choose what to change.", "danger")
        return redirect(url_for(LISTS[kind]))
    selection, change = form.selection(request.form, KEYS[kind]), form.change()
    try:
        operation = runner.start(kind, selection, change, form.confirm_activated.data == "1")
    except Conflict as error:
        db.session.rollback()
        if "confirm_activated" not in error.fields:
            raise
        preview = runner.preview(kind, selection, change)
        return _confirmation(kind, form, preview, selection, second=True)
    except ValidationFailed as error:
        db.session.rollback()
        flash(error.message, "danger")
        return redirect(url_for(LISTS[kind], **_filter_args(kind)))
    db.session.commit()
    return redirect(url_for(".operation", operation_id=operation.id))


@bp.get("/operations/<int:operation_id>")
@permission_required(Permission.READ_SETUP)
def operation(operation_id: int):
    """An operation's status, progress bar, counts and refusals; reloads itself until done."""
    return render_template("bulk/operation.html", operation=operations.get_operation(operation_id))


@bp.get("/operations/<int:operation_id>/progress")
@permission_required(Permission.READ_SETUP)
def operation_progress(operation_id: int):
    """An operation's progress as JSON, for its page to follow it live."""
    found = operations.get_operation(operation_id)
    return jsonify(
        {
            "id": found.id,
            "status": found.status,
            "finished": found.finished,
            "percent": round(found.progress * 100),
            "total": found.total,
            "processed": found.processed,
            "changed": found.changed,
            "unchanged": found.unchanged,
            "refused": found.refused,
        }
    )


@_both("/export.csv", methods=["GET"])
@permission_required(Permission.READ_SETUP)
def export(kind: str):
    """Every store or register as a CSV file, the columns of the API."""
    return csv_io.export_response(kind)


@_both("/import", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_SETUP)
def import_csv(kind: str):
    """Upload a CSV file of stores or registers: every row checked, then all saved or none."""
    form = ImportForm()
    result = failure = None
    if form.validate_on_submit():
        dry_run = form.dry_run.data
        try:
            result = csv_io.import_csv(kind, form.file.data.read(), dry_run)
        except ValidationFailed as error:
            db.session.rollback()
            failure = error
        else:
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
    return render_template(
        "bulk/import.html",
        kind=kind,
        columns=csv_io.COLUMNS[kind],
        form=form,
        result=result,
        failure=failure,
        dry_run=form.dry_run.data,
    )


def _confirmation(kind: str, form: BulkForm, preview, selection: dict, second: bool):
    extras = {}
    if "support_offline" in form.change():
        extras = bulk_offline_preview.values(preview.ids)
    return render_template(
        "bulk/confirm.html",
        kind=kind,
        form=form,
        preview=preview,
        second=second,
        label=form.label,
        filters=filter_fields(selection.get("filter") or {}, "f_"),
        picks=selection.get(KEYS[kind]) or [],
        back=url_for(LISTS[kind], **_filter_args(kind)),
        **extras,
    )


def _filter_args(kind: str) -> dict:
    return filter_fields(query_filters(FILTERS[kind], request.form, "f_"))
