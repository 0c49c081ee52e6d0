"""The scope-size preview on the offline profiles' API: what a store's offline database receives.

The route sits on `portal.setup.offline_profiles.api.blp`, so it lives under the profile's path
and in its part of the OpenAPI document; `create_app` imports this module before registering it.
"""

import marshmallow as ma
from flask.views import MethodView

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import errors
from portal.distribution.preview import BUILT, COLUMNS, EXACT, MIXED, PLANNER, profile_preview
from portal.setup.offline_profiles import services as profiles
from portal.setup.offline_profiles.api import blp
from portal.setup.stores import services as stores

ESTIMATES = (BUILT, COLUMNS, MIXED)
ESTIMATE_HELP = (
    f"`{BUILT}`: from the sizes of full packages already built, per row of the table; "
    f"`{COLUMNS}`: from the widths of its columns (no built package carries it yet); "
    f"`{MIXED}`: some tables each way."
)
ROWS_HELP = (
    f"`{EXACT}`: counted over the selects a full package is built from; `{PLANNER}`: "
    "PostgreSQL's planner estimate for those selects (its table statistics scaled by the "
    "scope's selectivity), given for a table whose scope reads more rows than a quick count "
    "can take, such as a catalogue of a million products."
)


class PreviewArgsSchema(ma.Schema):
    """The store whose offline databases are previewed."""

    store = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=20),
        metadata={"description": "Store number, e.g. HOUSTON"},
    )


class TableSizeSchema(ma.Schema):
    """One table of the first full packages."""

    table = ma.fields.String(required=True)
    job = ma.fields.String(required=True, metadata={"description": "The job carrying it"})
    rows = ma.fields.Integer(
        required=True, metadata={"description": "Rows in scope, counted or estimated"}
    )
    rows_estimate = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf((EXACT, PLANNER)),
        metadata={"description": ROWS_HELP},
    )
    bytes = ma.fields.Integer(required=True, metadata={"description": "Estimated package bytes"})
    estimate = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(ESTIMATES),
        metadata={"description": ESTIMATE_HELP},
    )


class OfflinePreviewSchema(ma.Schema):
    """What one offline database of the profile at the store receives in its first packages."""

    profile = ma.fields.String(required=True)
    store = ma.fields.String(required=True)
    paused = ma.fields.Boolean(
        required=True, metadata={"description": "Synchronization paused: nothing is sent"}
    )
    tables = ma.fields.List(ma.fields.Nested(TableSizeSchema), required=True)
    rows_total = ma.fields.Integer(required=True)
    rows_estimate = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf((EXACT, PLANNER)),
        metadata={"description": f"`{PLANNER}` if any table's rows are estimated"},
    )
    bytes_total = ma.fields.Integer(required=True)
    estimate = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(ESTIMATES),
        metadata={"description": ESTIMATE_HELP},
    )


@blp.route("/<path:name>/preview")
class OfflineProfilePreview(MethodView):
    """The scope-size preview of an offline profile at one store."""

    @api_permission_required(Permission.READ_SETUP)
    @blp.arguments(PreviewArgsSchema, location="query")
    @blp.response(200, OfflinePreviewSchema)
    @errors(blp, 401, 403, 404, 422)
    def get(self, args, name):
        """What each offline database of this profile at the store receives in its first full
        packages: per table, the rows (counted over the very selects a package is built from, or
        for a very large scope the planner's estimate of them, as `rows_estimate` says) and the
        estimated bytes. 404 for an unknown profile or store.
        """
        profile = profiles.get_profile(name)
        store = stores.get_store(args["store"])
        return profile_preview(profile, store)
