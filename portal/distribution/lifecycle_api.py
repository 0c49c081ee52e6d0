"""JSON API of the session lifecycle: show, cancel and retry sessions, runs and databases.

The run and channel database routes sit on their resources' blueprints (`/runs`,
`/channel-databases`), so `create_app` imports this module before registering them.
"""

from contextlib import suppress

from flask.views import MethodView
from kombu.exceptions import OperationalError

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.distribution import lifecycle, runs, sessions, tasks
from portal.distribution.api import runs_blp
from portal.distribution.lifecycle_schemas import (
    CanceledSchema,
    DownloadSessionSchema,
    FullSyncRequestSchema,
    FullSyncSchema,
    NoBodySchema,
)
from portal.distribution.schemas import RunSchema
from portal.setup.channels import services as channels
from portal.setup.channels.api import databases_blp

sessions_blp = api_blueprint(
    "download_sessions_api",
    __name__,
    "/download-sessions",
    "Download sessions: one package for one channel database, its tries, cancel and retry.",
)


def _enqueue(session_ids: list[int]) -> None:
    # With the broker down the sessions stay requested: the beat tick hands them out later.
    with suppress(OperationalError):
        tasks.enqueue_builds(session_ids, retry=False)


@sessions_blp.route("/<int:session_id>")
class SessionItem(MethodView):
    """One download session."""

    @api_permission_required(Permission.READ_SETUP)
    @sessions_blp.response(200, DownloadSessionSchema)
    @errors(sessions_blp, 401, 403, 404)
    def get(self, session_id):
        """Show a session: its status in words, its message and each failed try of the device."""
        return sessions.get_session(session_id)


@sessions_blp.route("/<int:session_id>/cancel")
class SessionCancel(MethodView):
    """Cancelling a session."""

    @api_permission_required(Permission.RETRY_BUILDS)
    @sessions_blp.arguments(NoBodySchema, required=False)
    @sessions_blp.response(200, CanceledSchema)
    @errors(sessions_blp, 400, 401, 403, 404, 409, 422)
    def post(self, _data, session_id):
        """Cancel a session not yet applied, and the pending incrementals built on it.

        The database's next package of the job is then a full one. 409 for a session already
        applied, canceled or without data.
        """
        canceled = lifecycle.cancel_session(sessions.get_session(session_id))
        db.session.commit()
        return {"canceled": canceled}


@sessions_blp.route("/<int:session_id>/retry")
class SessionRetry(MethodView):
    """Retrying a session."""

    @api_permission_required(Permission.RETRY_BUILDS)
    @sessions_blp.arguments(NoBodySchema, required=False)
    @sessions_blp.response(200, DownloadSessionSchema)
    @errors(sessions_blp, 400, 401, 403, 404, 409, 422)
    def post(self, _data, session_id):
        """Try a failed or canceled session again.

        A package that could not be built (or was canceled) is requested again and built by a
        worker; one the device failed to download or apply is offered again with fresh tries.
        409 for any other status.
        """
        session = sessions.get_session(session_id)
        to_build = sessions.retry_session(session)
        db.session.commit()
        _enqueue(to_build)
        return session


@runs_blp.route("/<int:run_id>/cancel")
class RunCancel(MethodView):
    """Cancelling a run."""

    @api_permission_required(Permission.RETRY_BUILDS)
    @runs_blp.arguments(NoBodySchema, required=False)
    @runs_blp.response(200, RunSchema)
    @errors(runs_blp, 400, 401, 403, 404, 409, 422)
    def post(self, _data, run_id):
        """Cancel a run: a waiting one never starts, and its sessions not yet applied end.

        409 for a finished run with nothing left to cancel.
        """
        run = runs.get_run(run_id)
        lifecycle.cancel_run(run)
        db.session.commit()
        return run


@runs_blp.route("/<int:run_id>/retry")
class RunRetry(MethodView):
    """Retrying a run's failed sessions."""

    @api_permission_required(Permission.RETRY_BUILDS)
    @runs_blp.arguments(NoBodySchema, required=False)
    @runs_blp.response(200, RunSchema)
    @errors(runs_blp, 400, 401, 403, 404, 409, 422)
    def post(self, _data, run_id):
        """Retry every failed session of a run, as *Retry failed sessions* does.

        Builds that failed are requested again; packages devices gave up on are offered again
        with fresh tries. 409 when none failed.
        """
        run = runs.get_run(run_id)
        to_build = sessions.retry_failed(run)
        db.session.commit()
        _enqueue(to_build)
        return run


@databases_blp.route("/<int:database_id>/cancel-sessions")
class DatabaseCancel(MethodView):
    """Cancelling everything pending for a database."""

    @api_permission_required(Permission.RETRY_BUILDS)
    @databases_blp.arguments(NoBodySchema, required=False)
    @databases_blp.response(200, CanceledSchema)
    @errors(databases_blp, 400, 401, 403, 404, 409, 422)
    def post(self, _data, database_id):
        """Cancel every session of the database not yet applied (a register being replaced).

        Runs waiting to reach that database alone are canceled too; its next packages are full
        ones. 409 when nothing is pending.
        """
        database = channels.get_database(database_id)
        canceled = lifecycle.cancel_database(database.id, database.name)
        db.session.commit()
        return {"canceled": canceled}


def _full_sync(database_ids: list[int]) -> dict:
    requested = sessions.request_full_sync(database_ids)
    db.session.commit()
    for run in requested:
        tasks.dispatch_run(run.id)
    return {
        "databases": len({run.channel_database_id for run in requested}),
        "runs": requested,
    }


@databases_blp.route("/<int:database_id>/full-sync")
class DatabaseFullSync(MethodView):
    """Full data sync for one database."""

    @api_permission_required(Permission.RUN_DISTRIBUTION)
    @databases_blp.arguments(NoBodySchema, required=False)
    @databases_blp.response(202, FullSyncSchema)
    @errors(databases_blp, 400, 401, 403, 404, 409, 422)
    def post(self, _data, database_id):
        """Request a full package from every enabled schedule that reaches the database.

        One run per schedule, each for this database only; follow them under `/runs`. 409 when
        no schedule sends it anything.
        """
        return _full_sync([channels.get_database(database_id).id])


@databases_blp.route("/full-sync")
class SelectionFullSync(MethodView):
    """Full data sync for a selection of databases."""

    @api_permission_required(Permission.RUN_DISTRIBUTION)
    @databases_blp.arguments(FullSyncRequestSchema)
    @databases_blp.response(202, FullSyncSchema)
    @errors(databases_blp, 400, 401, 403, 409, 422)
    def post(self, data):
        """Request a full data sync for each listed database a schedule reaches.

        `databases` says how many it hits; databases no enabled schedule reaches (or unknown
        ids) are left out, and 409 when that is all of them.
        """
        return _full_sync(data["channel_databases"])
