"""JSON API of master data: list any distributable table, upsert and delete rows in bulk."""

from flask.views import MethodView

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.core.pagination import keyset_page
from portal.masterdata import services
from portal.masterdata.entities import get_entity
from portal.masterdata.schemas import (
    BulkDeleteResultSchema,
    BulkDeleteSchema,
    BulkUpsertResultSchema,
    BulkUpsertSchema,
    RowListArgsSchema,
    RowPageSchema,
)

blp = api_blueprint(
    "masterdata_api",
    __name__,
    "/masterdata",
    "Master data: the tables the scheduler jobs distribute (`entity` is the table name, e.g. "
    f"product, trade_agreement, tax_rate). Bulk writes take up to {services.MAX_ROWS} rows per "
    "request, all or nothing, and stamp one change version on every row they change.",
)


@blp.route("/<entity>")
class Rows(MethodView):
    """The rows of one master data table."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.arguments(RowListArgsSchema, location="query")
    @blp.response(200, RowPageSchema)
    @errors(blp, 401, 403, 404)
    def get(self, args, entity):
        """List rows by id, searching the natural key and name; tombstones only if asked."""
        table = get_entity(entity)
        stmt = services.rows_query(table, args.get("q"), args["include_deleted"])
        items, next_cursor = keyset_page(stmt, table.model.id, args.get("cursor"), args["limit"])
        return {"items": [services.row_values(table, row) for row in items], "next": next_cursor}

    @api_permission_required(Permission.CHANGE_MASTERDATA)
    @blp.arguments(BulkUpsertSchema)
    @blp.response(200, BulkUpsertResultSchema)
    @errors(blp, 400, 401, 403, 404, 409)
    def post(self, data, entity):
        """Insert or update rows by natural key; errors name each row's field (rows.3.name)."""
        outcome = services.bulk_upsert(entity, data["rows"])
        db.session.commit()
        return {
            "inserted": outcome.inserted,
            "updated": outcome.updated,
            "version": outcome.version,
        }


@blp.route("/<entity>/delete")
class RowDeletes(MethodView):
    """Deletions of rows of one master data table."""

    @api_permission_required(Permission.CHANGE_MASTERDATA)
    @blp.arguments(BulkDeleteSchema)
    @blp.response(200, BulkDeleteResultSchema)
    @errors(blp, 400, 401, 403, 404, 409)
    def post(self, data, entity):
        """Delete rows by natural key: they become tombstones the next packages carry."""
        outcome = services.bulk_delete(entity, data["keys"])
        db.session.commit()
        return {"deleted": outcome.deleted, "version": outcome.version}
