"""JSON API of registers and their Support offline flag."""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.pagination import keyset_page
from portal.extensions import db
from portal.setup.models import Register
from portal.setup.registers import services
from portal.setup.registers.schemas import (
    RegisterListArgsSchema,
    RegisterPageSchema,
    RegisterSchema,
    RegisterUpdateSchema,
)

blp = api_blueprint(
    "registers_api",
    __name__,
    "/registers",
    "Registers: POS terminals; Support offline gives one an offline database.",
)


@blp.route("")
class Registers(MethodView):
    """The registers."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.arguments(RegisterListArgsSchema, location="query")
    @blp.response(200, RegisterPageSchema)
    @errors(blp, 401, 403)
    def get(self, args):
        """List registers by number, optionally searching or of one store."""
        stmt = services.registers_query(args.get("q"), args.get("store")).options(
            selectinload(Register.store), selectinload(Register.offline_database)
        )
        items, next_cursor = keyset_page(
            stmt, Register.register_number, args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.arguments(RegisterSchema)
    @blp.response(201, RegisterSchema)
    @errors(blp, 400, 401, 403, 409)
    def post(self, data):
        """Create a register in a store; with Support offline on, also its offline database."""
        register = services.create_register(data)
        db.session.commit()
        return register


@blp.route("/<register_number>")
class RegisterItem(MethodView):
    """One register."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.response(200, RegisterSchema)
    @errors(blp, 401, 403, 404)
    def get(self, register_number):
        """Show a register and its offline database."""
        return services.get_register(register_number)

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.arguments(RegisterUpdateSchema(partial=True))
    @blp.response(200, RegisterSchema)
    @errors(blp, 400, 401, 403, 404, 409)
    def patch(self, data, register_number):
        """Change a register's offline profile, active flag or Support offline."""
        register = services.update_register(services.get_register(register_number), data)
        db.session.commit()
        return register

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.response(204)
    @errors(blp, 401, 403, 404, 409)
    def delete(self, register_number):
        """Delete a register that never had an offline database."""
        services.delete_register(services.get_register(register_number))
        db.session.commit()
