"""JSON API of distribution schedules and their runs."""

from flask import url_for
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.core.pagination import keyset_page
from portal.core.resources import Guards, Schemas, Service, crud_routes
from portal.distribution import runs, services, tasks
from portal.distribution.models import DistributionRun, DistributionSchedule
from portal.distribution.schemas import (
    DistributionSchedulePageSchema,
    DistributionScheduleSchema,
    DistributionScheduleUpdateSchema,
    RunListArgsSchema,
    RunPageSchema,
    RunRequestSchema,
    RunSchema,
)

schedules_blp = api_blueprint(
    "distribution_schedules_api",
    __name__,
    "/distribution-schedules",
    "Distribution schedules: which scheduler jobs go to which channel data groups, and when.",
)
runs_blp = api_blueprint(
    "runs_api",
    __name__,
    "/runs",
    "Runs of distribution schedules: their progress and the packages they built.",
)


crud_routes(
    schedules_blp,
    ("Schedules", "ScheduleItem", "/<code>"),
    Guards.of(api_permission_required, Permission.READ_SETUP, Permission.CHANGE_SCHEDULES),
    """The distribution schedules.

    GET: List schedules by code, optionally searching code and name.
    POST: Create a schedule for scheduler jobs (by number) and channel data groups (by name).
    """,
    """One distribution schedule.

    GET: Show a schedule.
    PATCH: Change a schedule; `interval_minutes` or `cron` replaces the other recurrence.

        A changed recurrence (or enabling the schedule) sets its next run anew: one interval
        from now, or the cron expression's next time in its time zone.
    DELETE: Delete a schedule that has never run; disable one that has, to keep its history.
    """,
    Schemas(
        DistributionSchedulePageSchema,
        DistributionScheduleSchema,
        DistributionScheduleUpdateSchema(partial=True),
    ),
    Service(
        lambda args: services.schedules_query(args.get("q")).options(
            selectinload(DistributionSchedule.jobs), selectinload(DistributionSchedule.groups)
        ),
        DistributionSchedule.code,
        services.create_schedule,
        services.get_schedule,
        services.update_schedule,
        services.delete_schedule,
    ),
    patch_errors=(400, 401, 403, 404),
)


@schedules_blp.route("/<code>/runs")
class ScheduleRuns(MethodView):
    """Running a distribution schedule."""

    @api_permission_required(Permission.RUN_DISTRIBUTION)
    @schedules_blp.arguments(RunRequestSchema, required=False)
    @schedules_blp.response(202, RunSchema)
    @errors(schedules_blp, 400, 401, 403, 404, 409)
    def post(self, data, code):
        """Run a schedule now, as "Run now" does; `channel_database` forces one full package.

        Without a body the run is incremental for every target, as "Run now" without full data
        sync.
        The run is accepted and waits for a worker; follow it at the `Location` given. When the
        task queue is unreachable it stays `waiting` (its message says so) and starts once the
        queue is back.
        """
        schedule = services.get_schedule(code)
        run = runs.request_run(schedule, data["full"], data["channel_database"])
        db.session.commit()
        tasks.dispatch_run(run.id)
        return run, {"Location": url_for("runs_api.RunItem", run_id=run.id)}


@runs_blp.route("")
class Runs(MethodView):
    """The runs of every schedule."""

    @api_permission_required(Permission.READ_SETUP)
    @runs_blp.arguments(RunListArgsSchema, location="query")
    @runs_blp.response(200, RunPageSchema)
    @errors(runs_blp, 401, 403)
    def get(self, args):
        """List runs by id (oldest first), filtered by schedule code and status."""
        stmt = runs.runs_query(args.get("schedule"), args.get("status"), args.get("q")).options(
            selectinload(DistributionRun.schedule)
        )
        items, next_cursor = keyset_page(
            stmt, DistributionRun.id, args.get("cursor"), args["limit"]
        )
        return {"items": items, "next": next_cursor}


@runs_blp.route("/<int:run_id>")
class RunItem(MethodView):
    """One run."""

    @api_permission_required(Permission.READ_SETUP)
    @runs_blp.response(200, RunSchema)
    @errors(runs_blp, 401, 403, 404)
    def get(self, run_id):
        """Show a run: status, progress and one package entry per download session."""
        return runs.get_run(run_id)
