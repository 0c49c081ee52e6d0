"""JSON API of offline profiles and their offline scopes."""

from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint
from portal.core.resources import Guards, Schemas, Service, crud_routes
from portal.setup.models import OfflineProfile
from portal.setup.offline_profiles import services
from portal.setup.offline_profiles.schemas import (
    OfflineProfilePageSchema,
    OfflineProfileSchema,
    OfflineProfileUpdateSchema,
)

blp = api_blueprint(
    "offline_profiles_api",
    __name__,
    "/offline-profiles",
    "Offline profiles: how registers behave offline and which data their offline databases get.",
)


crud_routes(
    blp,
    # Names may hold a '/'; `<name>/preview` is the profile's scope-size preview, not a name.
    ("OfflineProfiles", "OfflineProfileItem", "/<profile_name:name>"),
    Guards.of(api_permission_required, Permission.READ_SETUP, Permission.CHANGE_SETUP),
    """The offline profiles.

    GET: List offline profiles by name, with their scopes.
    POST: Create an offline profile; without scopes it gets the default ones.
    """,
    """One offline profile.

    GET: Show an offline profile with its scopes.
    PATCH: Change an offline profile; a given scopes list replaces the current one.
    DELETE: Delete an offline profile that no store or register uses.
    """,
    Schemas(
        OfflineProfilePageSchema, OfflineProfileSchema, OfflineProfileUpdateSchema(partial=True)
    ),
    Service(
        lambda args: services.profiles_query(args.get("q")).options(
            selectinload(OfflineProfile.scopes)
        ),
        OfflineProfile.name,
        services.create_profile,
        services.get_profile,
        services.update_profile,
        services.delete_profile,
    ),
)
