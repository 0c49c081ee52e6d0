"""JSON API of bulk changes, their operations, and the CSV import and export of the setup.

The bulk and CSV routes join the registers' and stores' own blueprints (`/registers/bulk`,
`/stores/export.csv`); an operation has its own (`/operations/<id>`).
"""

from flask import request
from flask.views import MethodView

from portal.audit import operations
from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.setup.bulk import csv_io, runner
from portal.setup.bulk.schemas import (
    BulkResultSchema,
    ImportArgsSchema,
    ImportResultSchema,
    OperationSchema,
    RegisterBulkSchema,
    StoreBulkSchema,
)
from portal.setup.registers.api import blp as registers_blp
from portal.setup.stores.api import blp as stores_blp

operations_blp = api_blueprint(
    "operations_api",
    __name__,
    "/operations",
    "Operations: bulk changes of registers and stores, each one record of the audit trail.",
)

CSV_BODY = {
    "required": True,
    "description": "A CSV file: a header row naming the columns (as the export writes them), "
    "then one row per record.",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}
CSV_ANSWER = {
    "description": "The CSV file",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


def bulk_result(kind: str, data: dict):
    """The answer to a bulk change: the preview of a dry run, or the operation's counts."""
    change, selection = data["set"], {k: v for k, v in data.items() if k not in ("set",)}
    if data["dry_run"]:
        preview = runner.preview(kind, selection, change)
        db.session.rollback()
        return {
            "dry_run": True,
            "selected": preview.selected,
            "changed": preview.changed,
            "unchanged": preview.unchanged,
            "refused": preview.refused,
            "refusals": preview.refusals,
            "activated": preview.activated,
            "operation": None,
        }
    operation = runner.start(kind, selection, change, data["confirm_activated"])
    db.session.commit()
    answer = {
        "dry_run": False,
        "selected": operation.total,
        "changed": operation.changed,
        "unchanged": operation.unchanged,
        "refused": operation.refused,
        "refusals": operation.refusals,
        "operation": operation,
    }
    return (answer, 200) if operation.finished else (answer, 202)


def _bulk_route(blp, kind: str, schema, noun: str) -> None:
    class Bulk(MethodView):
        @api_permission_required(Permission.CHANGE_SETUP)
        @blp.arguments(schema)
        @blp.response(200, BulkResultSchema)
        @blp.alt_response(202, schema=BulkResultSchema, description="Queued for a worker")
        @errors(blp, 400, 401, 403, 409)
        def post(self, data):
            return bulk_result(kind, data)

    Bulk.__name__ = f"{kind.capitalize()}Bulk"
    Bulk.__doc__ = f"A change of many {noun} at once."
    Bulk.post.__doc__ = (
        f"Set fields on the {noun} a filter or a list selects, each through the rule of a "
        "single change.\n\n"
        "Answers how many changed, were unchanged and were refused (with reasons). A dry run "
        "writes nothing. Past the bulk threshold the change runs in a worker: 202 with the "
        "operation to follow at `/api/v1/operations/<id>`."
    )
    blp.route("/bulk")(Bulk)


def _csv_routes(blp, kind: str, noun: str) -> None:
    class Export(MethodView):
        @api_permission_required(Permission.READ_SETUP)
        @blp.doc(responses={"200": CSV_ANSWER})
        @errors(blp, 401, 403)
        def get(self):
            return csv_io.export_response(kind)

    class Import(MethodView):
        @api_permission_required(Permission.CHANGE_SETUP)
        @blp.arguments(ImportArgsSchema, location="query")
        @blp.doc(requestBody=CSV_BODY)
        @blp.response(200, ImportResultSchema)
        @errors(blp, 400, 401, 403, 409)
        def post(self, args):
            result = csv_io.import_csv(kind, request.get_data(), args["dry_run"])
            if args["dry_run"]:
                db.session.rollback()
            else:
                db.session.commit()
            return result

    Export.__name__, Import.__name__ = f"{kind.capitalize()}Export", f"{kind.capitalize()}Import"
    Export.__doc__ = f"The {noun} as a CSV file."
    Export.get.__doc__ = f"Download every one of the {noun} as CSV, the columns of the API."
    Import.__doc__ = f"{noun.capitalize()} from a CSV file."
    Import.post.__doc__ = (
        f"Create or change {noun} from CSV rows, all or nothing.\n\n"
        "Every row is checked and every error listed at once (`line 3.store`); with `dry_run` "
        "nothing is saved. One operation in the audit trail."
    )
    blp.route("/export.csv")(Export)
    blp.route("/import.csv")(Import)


_bulk_route(registers_blp, "registers", RegisterBulkSchema, "registers")
_bulk_route(stores_blp, "stores", StoreBulkSchema, "stores")
_csv_routes(registers_blp, "registers", "registers")
_csv_routes(stores_blp, "stores", "stores")


@operations_blp.route("/<int:operation_id>")
class OperationItem(MethodView):
    """One bulk change."""

    @api_permission_required(Permission.READ_SETUP)
    @operations_blp.response(200, OperationSchema)
    @errors(operations_blp, 401, 403, 404)
    def get(self, operation_id: int):
        """Show an operation: its status, progress, counts and refusals."""
        return operations.get_operation(operation_id)
