"""JSON API of registers and their Support offline flag."""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auth.roles import Permission
from portal.core.api import api_blueprint
from portal.core.auth import api_permission_required
from portal.core.pagination import keyset_page
from portal.extensions import db
from portal.registers import services
from portal.registers.models import Register
from portal.registers.schemas import (
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
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(403, response="FORBIDDEN")
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
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(409, response="CONFLICT")
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
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, register_number):
        """Show a register and its offline database."""
        return services.get_register(register_number)

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.arguments(RegisterUpdateSchema(partial=True))
    @blp.response(200, RegisterSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def patch(self, data, register_number):
        """Change a register's offline profile, active flag or Support offline."""
        register = services.update_register(services.get_register(register_number), data)
        db.session.commit()
        return register

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.response(204)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, register_number):
        """Delete a register that never had an offline database."""
        services.delete_register(services.get_register(register_number))
        db.session.commit()
