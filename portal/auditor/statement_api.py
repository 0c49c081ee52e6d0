"""JSON API of the shift statements, for auditors: each with its state and missing sequences."""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auditor.statement_queries import statements_query
from portal.auditor.statement_schemas import StatementListArgsSchema, StatementPageSchema
from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.pagination import keyset_page_desc
from portal.transactions.models import ShiftStatement

blp = api_blueprint(
    "statements_api",
    __name__,
    "/statements",
    "Shift statements: what registers said they sold, reconciled against the sales received.",
)


@blp.route("")
class Statements(MethodView):
    """The shift statements, latest closed first."""

    @api_permission_required(Permission.READ_TRANSACTIONS)
    @blp.arguments(StatementListArgsSchema, location="query")
    @blp.response(200, StatementPageSchema)
    @errors(blp, 401, 403)
    def get(self, args):
        """List shift statements by register, store and state, with what is still missing."""
        stmt = statements_query(args).options(
            selectinload(ShiftStatement.store), selectinload(ShiftStatement.register)
        )
        items, next_cursor = keyset_page_desc(
            stmt, (ShiftStatement.closed_at, ShiftStatement.id), args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}
