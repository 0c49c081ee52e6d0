"""The API's activation codes of a channel database's device, on the channel databases' API.

The route sits on `portal.setup.channels.api.databases_blp`, so its endpoint and OpenAPI entry
are those of the channel databases; `create_app` imports this module before registering it.
"""

from flask.views import MethodView

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import errors
from portal.core.extensions import db
from portal.device_api import credentials
from portal.device_api.schemas import ActivationCodeRequestSchema, ActivationCodeSchema
from portal.setup.channels import services
from portal.setup.channels.api import databases_blp


@databases_blp.route("/<int:database_id>/activation-code")
class ActivationCode(MethodView):
    """One-time activation codes of a channel database's device."""

    @api_permission_required(Permission.CHANGE_SETUP)
    @databases_blp.arguments(ActivationCodeRequestSchema, required=False)
    @databases_blp.response(201, ActivationCodeSchema)
    @errors(databases_blp, 400, 401, 403, 404, 409, 422)
    def post(self, _data, database_id):
        """Issue a one-time code a device activates with; earlier unused codes stop working.

        The code is shown only in this answer and expires after a day. 409 for an inactive
        channel database.
        """
        database = services.get_database(database_id)
        activation, code = credentials.issue_activation_code(database)
        db.session.commit()
        return {
            "channel_database": database.id,
            "name": database.name,
            "activation_code": code,
            "expires_at": activation.expires_at,
        }
