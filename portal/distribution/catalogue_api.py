"""JSON API of the scheduler job catalogue and of the scheduler's parameters."""

import marshmallow as ma
from flask.views import MethodView

from portal.auth.guards import api_permission_required
from portal.auth.roles import Permission
from portal.core.api import api_blueprint, errors, page_schema
from portal.core.arguments import StrictBoolean
from portal.core.extensions import db
from portal.core.resources import Guards, Schemas, Service, crud_routes
from portal.distribution import jobs, parameters
from portal.distribution.models import SchedulerJob

jobs_blp = api_blueprint(
    "scheduler_jobs_api",
    __name__,
    "/scheduler-jobs",
    "The scheduler job catalogue: each job's name, the tables it carries, and whether offline "
    "databases receive it.",
)
parameters_blp = api_blueprint(
    "scheduler_parameters_api",
    __name__,
    "/scheduler-parameters",
    "The scheduler's parameters, stored in the database and taken by workers on their next task.",
)


class SchedulerJobSchema(ma.Schema):
    """A scheduler job and the tables it carries."""

    job_number = ma.fields.String(required=True, metadata={"example": "1300"})
    name = ma.fields.String(metadata={"example": "Loyalty"})
    direction = ma.fields.String(
        dump_only=True,
        metadata={"description": "download (HQ to databases) or upload; new jobs download"},
    )
    tables = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "Distributable tables, in package order; changing them sends every "
            "target a full package of the job on its next run",
            "example": ["customer", "customer_group"],
        },
    )
    exclude_from_offline = StrictBoolean(
        metadata={"description": "Offline databases do not receive the job"}
    )


class SchedulerJobUpdateSchema(SchedulerJobSchema):
    """A job's fields to change; its number stays."""

    class Meta:
        exclude = ("job_number",)


SchedulerJobPageSchema = page_schema(SchedulerJobSchema, "SchedulerJobPage")


def _parameter_field(parameter: parameters.Parameter, required: bool) -> ma.fields.Integer:
    return ma.fields.Integer(
        strict=True,
        required=required,
        validate=ma.validate.Range(min=parameter.low, max=parameter.high),
        metadata={
            "description": f"{parameter.help} Default on a fresh install: `{parameter.setting}`."
        },
    )


SchedulerParametersSchema = ma.Schema.from_dict(
    {name: _parameter_field(p, True) for name, p in parameters.PARAMETERS.items()},
    name="SchedulerParameters",
)
SchedulerParametersPatchSchema = ma.Schema.from_dict(
    {name: _parameter_field(p, False) for name, p in parameters.PARAMETERS.items()},
    name="SchedulerParametersPatch",
)


crud_routes(
    jobs_blp,
    ("SchedulerJobs", "SchedulerJobItem", "/<job_number>"),
    Guards.of(api_permission_required, Permission.READ_SETUP, Permission.CHANGE_SCHEDULES),
    """The scheduler job catalogue.

    GET: List scheduler jobs by number, optionally searching number and name.
    POST: Make a download job carrying distributable tables.
    """,
    """One scheduler job.

    GET: Show a job and its tables.
    PATCH: Change a job's name, tables or exclusion from offline databases.

        Changed tables reach every target of the job as a full package on its next run. An
        upload job (P-0001) keeps its tables; only its name changes.
    """,
    Schemas(SchedulerJobPageSchema, SchedulerJobSchema, SchedulerJobUpdateSchema(partial=True)),
    Service(
        lambda args: jobs.jobs_query(args.get("q")),
        SchedulerJob.job_number,
        jobs.create_job,
        jobs.get_job,
        jobs.update_job,
        None,
    ),
    patch_errors=(400, 401, 403, 404),
)


@parameters_blp.route("")
class SchedulerParameters(MethodView):
    """The scheduler's parameters."""

    @api_permission_required(Permission.READ_SETUP)
    @parameters_blp.response(200, SchedulerParametersSchema)
    @errors(parameters_blp, 401, 403)
    def get(self):
        """Show every parameter's current value (stored, or its default on a fresh install)."""
        return parameters.values()

    @api_permission_required(Permission.CHANGE_SCHEDULES)
    @parameters_blp.arguments(SchedulerParametersSchema)
    @parameters_blp.response(200, SchedulerParametersSchema)
    @errors(parameters_blp, 400, 401, 403)
    def put(self, data):
        """Store every parameter; workers take the new values on their next task."""
        values = parameters.update(data)
        db.session.commit()
        return values

    @api_permission_required(Permission.CHANGE_SCHEDULES)
    @parameters_blp.arguments(SchedulerParametersPatchSchema)
    @parameters_blp.response(200, SchedulerParametersSchema)
    @errors(parameters_blp, 400, 401, 403)
    def patch(self, data):
        """Store the parameters given; the others keep their values."""
        values = parameters.update(data)
        db.session.commit()
        return values
