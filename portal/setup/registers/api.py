"""JSON API of registers and their Support offline flag."""

from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint
from portal.core.resources import Guards, Schemas, Service, crud_routes
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


def _registers(args):
    return services.registers_query(args.get("q"), args.get("store")).options(
        selectinload(Register.store), selectinload(Register.offline_database)
    )


crud_routes(
    blp,
    ("Registers", "RegisterItem", "/<key:register_number>"),
    Guards.of(api_permission_required, Permission.READ_SETUP, Permission.CHANGE_SETUP),
    """The registers.

    GET: List registers by number, optionally searching or of one store.
    POST: Create a register in a store; with Support offline on, also its offline database.
    """,
    """One register.

    GET: Show a register and its offline database.
    PATCH: Change a register's offline profile, active flag or Support offline.
    DELETE: Delete a register that never had an offline database.
    """,
    Schemas(
        RegisterPageSchema,
        RegisterSchema,
        RegisterUpdateSchema(partial=True),
        list_args=RegisterListArgsSchema,
    ),
    Service(
        _registers,
        Register.register_number,
        services.create_register,
        services.get_register,
        services.update_register,
        services.delete_register,
    ),
)
