"""Master data pages: tables by scheduler job, rows, edit, delete (tombstone) and CSV import."""

import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from portal.auth.guards import permission_required
from portal.auth.roles import Permission
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.web import attempt, paginate, submit
from portal.masterdata import csv_import, services
from portal.masterdata.entities import entity_groups, get_entity
from portal.masterdata.forms import ImportForm, form_data, row_form

bp = Blueprint("masterdata", __name__, url_prefix="/masterdata")


@bp.get("/")
@permission_required(Permission.READ_SETUP)
def index():
    """Every master data table under the scheduler job that distributes it, with row counts."""
    groups = entity_groups()
    counts = {e.name: services.live_count(e) for _, entities in groups for e in entities}
    return render_template("masterdata/index.html", groups=groups, counts=counts)


@bp.get("/<entity>/")
@permission_required(Permission.READ_SETUP)
def rows(entity: str):
    """An entity's rows by natural key, searchable; deleted rows only with ?deleted=1."""
    table = get_entity(entity)
    q = request.args.get("q", "").strip()
    deleted = request.args.get("deleted") == "1"
    page = paginate(services.rows_query(table, q, include_deleted=deleted))
    return render_template("masterdata/rows.html", entity=table, page=page, q=q, deleted=deleted)


@bp.get("/<entity>/template.csv")
@permission_required(Permission.READ_SETUP)
def template(entity: str):
    """A CSV file holding only the header row an import of this entity takes."""
    table = get_entity(entity)
    out = io.StringIO()
    csv.writer(out).writerow([field.name for field in table.fields])
    disposition = f'attachment; filename="{table.name}.csv"'
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": disposition}
    )


@bp.route("/<entity>/new", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_MASTERDATA)
def create(entity: str):
    """Create a row; a deleted row with the same key comes back."""
    table = get_entity(entity)
    form = row_form(table)
    if row := submit(form, lambda: services.create_row(table.name, form_data(form, table))):
        flash(_saved(table, row), "success")
        return redirect(url_for(".rows", entity=table.name))
    return render_template("masterdata/form.html", entity=table, form=form, row=None)


@bp.route("/<entity>/rows/<int:row_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_MASTERDATA)
def edit(entity: str, row_id: int):
    """Change a row's fields; its natural key stays. Saving a deleted row restores it."""
    table = get_entity(entity)
    row = services.get_row(table.name, row_id)
    form = row_form(table, row)
    if submit(form, lambda: services.update_row(table.name, row_id, form_data(form, table))):
        flash(_saved(table, row), "success")
        return redirect(url_for(".rows", entity=table.name))
    return render_template("masterdata/form.html", entity=table, form=form, row=row)


@bp.route("/<entity>/rows/<int:row_id>/delete", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_MASTERDATA)
def delete(entity: str, row_id: int):
    """Confirm, then delete a row: it stays as a tombstone that the next packages carry."""
    table = get_entity(entity)
    row = services.get_row(table.name, row_id)
    key = table.key_text(table.row_key(row))
    if request.method == "GET":
        return render_template("masterdata/delete.html", entity=table, row=row, key=key)
    if not attempt(lambda: services.delete_row(table.name, row_id)):
        return redirect(url_for(".edit", entity=table.name, row_id=row_id))
    flash(f"{table.noun.capitalize()} {key} deleted.", "success")
    return redirect(url_for(".rows", entity=table.name))


@bp.route("/<entity>/import", methods=["GET", "POST"])
@permission_required(Permission.CHANGE_MASTERDATA)
def import_csv(entity: str):
    """Upload a CSV file of rows: every row is checked, then all are saved or none."""
    table = get_entity(entity)
    form = ImportForm()
    result = failure = None
    if form.validate_on_submit():
        dry_run = form.dry_run.data
        try:
            result = csv_import.import_csv(table.name, form.file.data.stream, dry_run)
        except ValidationFailed as error:
            db.session.rollback()
            failure = error
        else:
            if dry_run:
                db.session.rollback()
            else:
                db.session.commit()
    return render_template(
        "masterdata/import.html",
        entity=table,
        form=form,
        result=result,
        failure=failure,
        dry_run=form.dry_run.data,
    )


def _saved(table, row) -> str:
    key = table.key_text(table.row_key(row))
    return f"{table.noun.capitalize()} {key} saved (change version {row.row_version})."
