"""The device API's shift statements: a register closing a shift says what it sold.

`portal.transactions.statements` stores them; the auditor workspace reconciles them.
"""

from flask.views import MethodView

from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.device_api.auth import DEVICE_TOKEN, current_database, device_required
from portal.device_api.statement_schemas import DeviceStatementSchema, StatementReceiptSchema
from portal.transactions import statements

blp = api_blueprint(
    "device_statements_api",
    __name__,
    "/device/statements",
    "Shift statements: what a register says it sold in a shift, reconciled at HQ.",
)


@blp.route("")
class Statements(MethodView):
    """Send a shift statement."""

    @device_required
    @blp.doc(security=DEVICE_TOKEN)
    @blp.arguments(DeviceStatementSchema)
    @blp.response(200, StatementReceiptSchema)
    @errors(blp, 400, 401, 403, 409, 422)
    def post(self, data):
        """Send a closed shift's statement; the same one again is a duplicate, stored once."""
        received = statements.receive(current_database(), data)
        db.session.commit()
        return received
