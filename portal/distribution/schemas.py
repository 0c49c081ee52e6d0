"""JSON shapes of distribution schedules, their runs and the packages a run builds."""

import marshmallow as ma
from sqlalchemy.orm import selectinload

from portal.core.api import ListArgsSchema, page_schema
from portal.core.arguments import StrictBoolean
from portal.core.extensions import db
from portal.distribution import runs, sessions
from portal.distribution.labels import run_status_label, session_status_label
from portal.distribution.models import (
    FULL,
    INCREMENTAL,
    RUN_STATUSES,
    SESSION_STATUSES,
    DownloadSession,
)
from portal.setup.channels.schemas import Reference


class DistributionScheduleSchema(ma.Schema):
    """A distribution schedule: which jobs it runs for which channel data groups, and when."""

    code = ma.fields.String(required=True, metadata={"example": "1080"})
    name = ma.fields.String(metadata={"example": "Sales tax"})
    jobs = ma.fields.List(
        Reference("job_number", allow_none=False),
        metadata={"description": "Scheduler job numbers", "example": ["1080"]},
    )
    groups = ma.fields.List(
        Reference(allow_none=False),
        metadata={"description": "Target channel data group names", "example": ["Texas stores"]},
    )
    interval_minutes = ma.fields.Integer(
        strict=True,
        allow_none=True,
        metadata={
            "description": "Run every this many minutes; null with a null `cron` runs only on "
            "demand. Giving it clears `cron`; giving both is refused"
        },
    )
    cron = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Run at set times: a 5-field cron expression (minute hour "
            "day-of-month month day-of-week) read on the clock of `time_zone`. Giving it "
            "clears `interval_minutes`; giving both is refused",
            "example": "0 2 * * *",
        },
    )
    time_zone = ma.fields.String(
        metadata={
            "description": "IANA time zone the cron expression is read in; UTC by default",
            "example": "America/Chicago",
        },
    )
    full_sync = StrictBoolean(
        metadata={"description": "Every run sends full packages instead of incremental ones"}
    )
    enabled = StrictBoolean(metadata={"description": "A disabled schedule does not run"})
    next_run_at = ma.fields.DateTime(
        dump_only=True,
        allow_none=True,
        metadata={"description": "When the recurrence next runs the schedule (UTC)"},
    )


class DistributionScheduleUpdateSchema(DistributionScheduleSchema):
    """A schedule's fields to change; its code stays."""

    class Meta:
        exclude = ("code",)


class RunRequestSchema(ma.Schema):
    """What to run: incremental or full packages, for every target or one channel database."""

    full = StrictBoolean(
        load_default=False, metadata={"description": "Full data sync for every target"}
    )
    channel_database = ma.fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "Only this channel database (by id), with a full package"},
    )


class RunProgressSchema(ma.Schema):
    """How far a run has got."""

    sessions_total = ma.fields.Integer()
    sessions_done = ma.fields.Integer()
    sessions_failed = ma.fields.Integer()
    sessions_no_data = ma.fields.Integer(
        metadata={
            "description": "Targets with nothing new: counted here, no package and no session kept"
        }
    )
    rows_written = ma.fields.Integer()
    percent = ma.fields.Function(runs.progress, metadata={"type": "integer"})


class PackageSchema(ma.Schema):
    """One download session of a run: a package for one target database and job."""

    session = ma.fields.Integer(attribute="id")
    channel_database = ma.fields.Integer(attribute="channel_database_id")
    job = ma.fields.String(attribute="job_number")
    kind = ma.fields.String(allow_none=True, metadata={"enum": [FULL, INCREMENTAL]})
    status = ma.fields.String(metadata={"enum": list(SESSION_STATUSES)})
    status_label = ma.fields.Function(
        session_status_label, metadata={"type": "string", "example": "Apply failed: 3 tries"}
    )
    base_version = ma.fields.Integer(allow_none=True)
    new_version = ma.fields.Integer(allow_none=True)
    # A session without a package (not built yet, failed, nothing changed) shows nulls here.
    sha256 = ma.fields.String(attribute="package.sha256", dump_default=None, allow_none=True)
    size = ma.fields.Integer(attribute="package.size", dump_default=None, allow_none=True)
    row_counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        attribute="package.row_counts",
        dump_default=None,
        allow_none=True,
    )
    message = ma.fields.String()


class Derived(ma.fields.Nested):
    """A read-only nested value computed from the whole object, e.g. a run's sessions."""

    def __init__(self, nested, compute, **kwargs):
        super().__init__(nested, dump_only=True, **kwargs)
        self.compute = compute

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        """The computed value instead of an attribute."""
        return self.compute(obj)


def _packages(run) -> list:
    stmt = sessions.sessions_query(run_id=run.id).order_by(None).order_by(DownloadSession.id)
    return list(db.session.scalars(stmt.options(selectinload(DownloadSession.package))))


class RunSummarySchema(ma.Schema):
    """A run of a schedule and its progress."""

    id = ma.fields.Integer()
    schedule = Reference("code", allow_none=False)
    status = ma.fields.String(metadata={"enum": list(RUN_STATUSES)})
    status_label = ma.fields.Function(
        lambda run: run_status_label(run.status), metadata={"type": "string", "example": "Canceled"}
    )
    full_sync = ma.fields.Boolean()
    channel_database = ma.fields.Integer(
        attribute="channel_database_id",
        allow_none=True,
        metadata={"description": "The one target of a forced full package, else null"},
    )
    requested_by = ma.fields.String()
    requested_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    watermark = ma.fields.Integer(
        allow_none=True, metadata={"description": "The master data version the run sends up to"}
    )
    progress = Derived(RunProgressSchema, lambda run: run)
    message = ma.fields.String()


class RunSchema(RunSummarySchema):
    """A run of a schedule, its progress and the packages it built."""

    packages = Derived(PackageSchema, _packages, many=True)


class RunListArgsSchema(ListArgsSchema):
    """List arguments of runs, with their filters; `q` searches who requested them."""

    schedule = ma.fields.String(metadata={"description": "Schedule code"})
    status = ma.fields.String(validate=ma.validate.OneOf(RUN_STATUSES))


DistributionSchedulePageSchema = page_schema(DistributionScheduleSchema, "DistributionSchedulePage")
RunPageSchema = page_schema(RunSummarySchema, "RunPage")
