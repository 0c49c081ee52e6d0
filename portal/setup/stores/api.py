"""JSON API of stores."""

from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint
from portal.core.resources import Guards, Schemas, Service, crud_routes
from portal.setup.models import Store
from portal.setup.stores import services
from portal.setup.stores.schemas import StorePageSchema, StoreSchema, StoreUpdateSchema

blp = api_blueprint(
    "stores_api",
    __name__,
    "/stores",
    "Stores: retail channels, each with its channel database.",
)


def _stores(args):
    return services.stores_query(args.get("q")).options(
        selectinload(Store.registers), selectinload(Store.channel_database)
    )


crud_routes(
    blp,
    ("Stores", "StoreItem", "/<key:store_number>"),
    Guards.of(api_permission_required, Permission.READ_SETUP, Permission.CHANGE_SETUP),
    """The stores.

    GET: List stores by number, optionally searching number and name.
    POST: Create a store and its channel database in the store's channel data group.
    """,
    """One store.

    GET: Show a store.
    PATCH: Change a store; a new channel data group takes its channel database along.
    DELETE: Delete a store without registers, and its channel database.
    """,
    Schemas(StorePageSchema, StoreSchema, StoreUpdateSchema(partial=True)),
    Service(
        _stores,
        Store.store_number,
        services.create_store,
        services.get_store,
        services.update_store,
        services.delete_store,
    ),
)
