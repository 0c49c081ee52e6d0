"""JSON API of channel databases and channel data groups."""

from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint
from portal.core.resources import Guards, Schemas, Service, crud_routes
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


crud_routes(
    databases_blp,
    ("ChannelDatabases", "ChannelDatabaseItem", "/<int:database_id>"),
    Guards.of(api_permission_required, Permission.READ_SETUP, Permission.CHANGE_SETUP),
    """The channel databases.

    GET: List channel databases by id, filtered by kind, channel data group or store.
    """,
    """One channel database.

    GET: Show a channel database.
    PATCH: Move a channel database to another channel data group (or none).
    """,
    Schemas(
        ChannelDatabasePageSchema,
        ChannelDatabaseSchema,
        ChannelDatabaseSchema,
        list_args=DatabaseListArgsSchema,
    ),
    Service(
        lambda args: services.databases_query(
            args.get("q"), args.get("kind"), args.get("group"), args.get("store")
        ).options(selectinload(ChannelDatabase.store), selectinload(ChannelDatabase.register)),
        ChannelDatabase.id,
        None,
        services.get_database,
        services.update_database,
        None,
    ),
    patch_errors=(400, 401, 403, 404),
)


crud_routes(
    groups_blp,
    ("ChannelDataGroups", "ChannelDataGroupItem", "/<path:name>"),
    Guards.of(api_permission_required, Permission.READ_SETUP, Permission.CHANGE_SETUP),
    """The channel data groups.

    GET: List channel data groups by name.
    POST: Create an empty channel data group.
    """,
    """One channel data group.

    GET: Show a channel data group.
    PATCH: Rename a channel data group or change its description.
    DELETE: Delete a channel data group that no store or channel database uses.
    """,
    Schemas(
        ChannelDataGroupPageSchema,
        ChannelDataGroupSchema,
        ChannelDataGroupUpdateSchema(partial=True),
    ),
    Service(
        lambda args: services.groups_query(args.get("q")),
        ChannelDataGroup.name,
        lambda data: services.create_group(data["name"], data.get("description")),
        services.get_group,
        services.update_group,
        services.delete_group,
    ),
)
