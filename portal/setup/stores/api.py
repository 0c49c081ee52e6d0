"""JSON API of stores."""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import ListArgsSchema, api_blueprint, errors
from portal.core.pagination import keyset_page
from portal.extensions import db
from portal.setup.models import Store
from portal.setup.stores import services
from portal.setup.stores.schemas import StorePageSchema, StoreSchema, StoreUpdateSchema

blp = api_blueprint(
    "stores_api",
    __name__,
    "/stores",
    "Stores: retail channels, each with its channel database.",
)


@blp.route("")
class Stores(MethodView):
    """The stores."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, StorePageSchema)
    @errors(blp, 401, 403)
    def get(self, args):
        """List stores by number, optionally searching number and name."""
        stmt = services.stores_query(args.get("q")).options(
            selectinload(Store.registers), selectinload(Store.channel_database)
        )
        items, next_cursor = keyset_page(
            stmt, Store.store_number, args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.arguments(StoreSchema)
    @blp.response(201, StoreSchema)
    @errors(blp, 400, 401, 403, 409)
    def post(self, data):
        """Create a store and its channel database in the store's channel data group."""
        store = services.create_store(data)
        db.session.commit()
        return store


@blp.route("/<store_number>")
class StoreItem(MethodView):
    """One store."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.response(200, StoreSchema)
    @errors(blp, 401, 403, 404)
    def get(self, store_number):
        """Show a store."""
        return services.get_store(store_number)

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.arguments(StoreUpdateSchema(partial=True))
    @blp.response(200, StoreSchema)
    @errors(blp, 400, 401, 403, 404, 409)
    def patch(self, data, store_number):
        """Change a store; a new channel data group takes its channel database along."""
        store = services.update_store(services.get_store(store_number), data)
        db.session.commit()
        return store

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.response(204)
    @errors(blp, 401, 403, 404, 409)
    def delete(self, store_number):
        """Delete a store without registers, and its channel database."""
        services.delete_store(services.get_store(store_number))
        db.session.commit()
