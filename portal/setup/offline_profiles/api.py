"""JSON API of offline profiles and their offline scopes."""

from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import ListArgsSchema, api_blueprint, errors
from portal.core.pagination import keyset_page
from portal.extensions import db
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


@blp.route("")
class OfflineProfiles(MethodView):
    """The offline profiles."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, OfflineProfilePageSchema)
    @errors(blp, 401, 403)
    def get(self, args):
        """List offline profiles by name, with their scopes."""
        stmt = services.profiles_query(args.get("q")).options(selectinload(OfflineProfile.scopes))
        items, next_cursor = keyset_page(
            stmt, OfflineProfile.name, args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.arguments(OfflineProfileSchema)
    @blp.response(201, OfflineProfileSchema)
    @errors(blp, 400, 401, 403, 409)
    def post(self, data):
        """Create an offline profile; without scopes it gets the default ones."""
        profile = services.create_profile(data)
        db.session.commit()
        return profile


@blp.route("/<path:name>")
class OfflineProfileItem(MethodView):
    """One offline profile."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.response(200, OfflineProfileSchema)
    @errors(blp, 401, 403, 404)
    def get(self, name):
        """Show an offline profile with its scopes."""
        return services.get_profile(name)

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.arguments(OfflineProfileUpdateSchema(partial=True))
    @blp.response(200, OfflineProfileSchema)
    @errors(blp, 400, 401, 403, 404, 409)
    def patch(self, data, name):
        """Change an offline profile; a given scopes list replaces the current one."""
        profile = services.update_profile(services.get_profile(name), data)
        db.session.commit()
        return profile

    @api_permission_required(Permission.CHANGE_SETUP)
    @blp.response(204)
    @errors(blp, 401, 403, 404, 409)
    def delete(self, name):
        """Delete an offline profile that no store or register uses."""
        services.delete_profile(services.get_profile(name))
        db.session.commit()
