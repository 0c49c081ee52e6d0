"""JSON API of channel databases and channel data groups."""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import ListArgsSchema, api_blueprint, errors
from portal.core.pagination import keyset_page
from portal.extensions import db
from portal.setup.channels import services
from portal.setup.channels.schemas import (
    ChannelDatabasePageSchema,
    ChannelDatabaseSchema,
    ChannelDataGroupPageSchema,
    ChannelDataGroupSchema,
    ChannelDataGroupUpdateSchema,
    DatabaseListArgsSchema,
)
from portal.setup.models import ChannelDatabase, ChannelDataGroup

# No POST or DELETE: a store's channel database comes and goes with its store, and a register's
# offline database with its Support offline flag, so the router answers 405 with the methods
# there are.
databases_blp = api_blueprint(
    "channel_databases_api",
    __name__,
    "/channel-databases",
    "Channel databases: each store's channel database and each register's offline database. "
    "They are not created or deleted here: create or delete the store, or turn the register's "
    "Support offline on or off.",
)
groups_blp = api_blueprint(
    "channel_data_groups_api",
    __name__,
    "/channel-data-groups",
    "Channel data groups: the sets of channel databases that receive the same distributions.",
)


@databases_blp.route("")
class ChannelDatabases(MethodView):
    """The channel databases."""

    @api_permission_required(Permission.READ_SETUP)
    @databases_blp.arguments(DatabaseListArgsSchema, location="query")
    @databases_blp.response(200, ChannelDatabasePageSchema)
    @errors(databases_blp, 401, 403)
    def get(self, args):
        """List channel databases by id, filtered by kind, channel data group or store."""
        stmt = services.databases_query(
            args.get("q"), args.get("kind"), args.get("group"), args.get("store")
        ).options(selectinload(ChannelDatabase.store), selectinload(ChannelDatabase.register))
        items, next_cursor = keyset_page(
            stmt, ChannelDatabase.id, args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}


@databases_blp.route("/<int:database_id>")
class ChannelDatabaseItem(MethodView):
    """One channel database."""

    @api_permission_required(Permission.READ_SETUP)
    @databases_blp.response(200, ChannelDatabaseSchema)
    @errors(databases_blp, 401, 403, 404)
    def get(self, database_id):
        """Show a channel database."""
        return services.get_database(database_id)

    @api_permission_required(Permission.CHANGE_SETUP)
    @databases_blp.arguments(ChannelDatabaseSchema)
    @databases_blp.response(200, ChannelDatabaseSchema)
    @errors(databases_blp, 400, 401, 403, 404)
    def patch(self, data, database_id):
        """Move a channel database to another channel data group (or none)."""
        database = services.update_database(services.get_database(database_id), data)
        db.session.commit()
        return database


@groups_blp.route("")
class ChannelDataGroups(MethodView):
    """The channel data groups."""

    @api_permission_required(Permission.READ_SETUP)
    @groups_blp.arguments(ListArgsSchema, location="query")
    @groups_blp.response(200, ChannelDataGroupPageSchema)
    @errors(groups_blp, 401, 403)
    def get(self, args):
        """List channel data groups by name."""
        stmt = services.groups_query(args.get("q"))
        items, next_cursor = keyset_page(
            stmt, ChannelDataGroup.name, args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}

    @api_permission_required(Permission.CHANGE_SETUP)
    @groups_blp.arguments(ChannelDataGroupSchema)
    @groups_blp.response(201, ChannelDataGroupSchema)
    @errors(groups_blp, 400, 401, 403, 409)
    def post(self, data):
        """Create an empty channel data group."""
        group = services.create_group(data["name"], data.get("description"))
        db.session.commit()
        return group


@groups_blp.route("/<path:name>")
class ChannelDataGroupItem(MethodView):
    """One channel data group."""

    @api_permission_required(Permission.READ_SETUP)
    @groups_blp.response(200, ChannelDataGroupSchema)
    @errors(groups_blp, 401, 403, 404)
    def get(self, name):
        """Show a channel data group."""
        return services.get_group(name)

    @api_permission_required(Permission.CHANGE_SETUP)
    @groups_blp.arguments(ChannelDataGroupUpdateSchema(partial=True))
    @groups_blp.response(200, ChannelDataGroupSchema)
    @errors(groups_blp, 400, 401, 403, 404, 409)
    def patch(self, data, name):
        """Rename a channel data group or change its description."""
        group = services.update_group(services.get_group(name), data)
        db.session.commit()
        return group

    @api_permission_required(Permission.CHANGE_SETUP)
    @groups_blp.response(204)
    @errors(groups_blp, 401, 403, 404, 409)
    def delete(self, name):
        """Delete a channel data group that no store or channel database uses."""
        services.delete_group(services.get_group(name))
        db.session.commit()
