"""Forms for distribution schedules, running them, and filtering download sessions."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Form,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Optional

from portal.core.extensions import db
from portal.core.forms import WholeNumberField
from portal.core.validation import time_zone_choices
from portal.distribution import services
from portal.distribution.models import SESSION_STATUSES, DistributionSchedule
from portal.setup.channels import services as channels

SETTINGS = (
    "name",
    "jobs",
    "groups",
    "interval_minutes",
    "cron",
    "time_zone",
    "full_sync",
    "enabled",
)


def job_choices() -> list[SelectChoice]:
    """Every scheduler job of the catalogue, by number."""
    return [
        SelectChoice(job.job_number, f"{job.job_number} {job.name}") for job in services.list_jobs()
    ]


class ScheduleForm(FlaskForm):
    """A schedule's settings that can change after it is created."""

    name = StringField("Name", render_kw={"maxlength": 100})
    # The service says whether a job or group exists; a stale choice gets its message.
    jobs = SelectMultipleField(
        "Scheduler jobs",
        validate_choice=False,
        render_kw={"size": 8},
        description="The jobs each run sends. Hold Ctrl (or Cmd) to choose several.",
    )
    groups = SelectMultipleField(
        "Target channel data groups",
        validate_choice=False,
        render_kw={"size": 6},
        description="Every active channel database of these groups receives the jobs.",
    )
    interval_minutes = WholeNumberField(
        "Interval (minutes)",
        validators=[Optional()],
        render_kw={"min": 1},
        description="Run every this many minutes, the first time one interval from now.",
    )
    cron = StringField(
        "Cron expression",
        render_kw={"maxlength": 200, "autocomplete": "off", "spellcheck": "false"},
        description=(
            "Or run at set times: 5 fields, minute hour day-of-month month day-of-week, read on "
            "the clock of the time zone below. E.g. 0 2 * * * runs every night at 02:00; "
            "30 6 * * 1-5 on weekdays at 06:30."
        ),
    )
    # The service names an unknown zone on the field, as it does through the API.
    time_zone = SelectField(
        "Time zone",
        default="UTC",
        validate_choice=False,
        description="The clock the cron expression is read on, e.g. America/Chicago for "
        "stores in Houston. Daylight saving is followed.",
    )
    full_sync = BooleanField(
        "Full data sync on every run",
        description="Send everything in scope each time instead of only what changed.",
    )
    enabled = BooleanField(
        "Enabled",
        default=True,
        description="A disabled schedule neither recurs nor can be run now.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.jobs.choices = job_choices()
        groups = db.session.scalars(channels.groups_query())
        self.groups.choices = [SelectChoice(group.name) for group in groups]
        self.time_zone.choices = [SelectChoice(zone) for zone in time_zone_choices()]

    @staticmethod
    def initial(schedule: DistributionSchedule) -> dict:
        """The values of an existing schedule, as the form shows them."""
        return {
            "name": schedule.name,
            "jobs": [job.job_number for job in schedule.jobs],
            "groups": [group.name for group in schedule.groups],
            "interval_minutes": schedule.interval_minutes,
            "cron": schedule.cron,
            "time_zone": schedule.time_zone,
            "full_sync": schedule.full_sync,
            "enabled": schedule.enabled,
        }

    def to_data(self) -> dict:
        """The input of the schedule services, keyed by their field names."""
        return {key: self[key].data for key in SETTINGS}


class NewScheduleForm(ScheduleForm):
    """A new schedule: its settings and the code it keeps for good."""

    code = StringField(
        "Code",
        render_kw={"maxlength": 20},
        description="Unique, e.g. 1080. Letters, digits, '-', '_' or '.'.",
    )

    def to_data(self) -> dict:
        """The input of `create_schedule`."""
        return {"code": self.code.data, **super().to_data()}


class RunForm(FlaskForm):
    """ "Run now": incremental packages, or a full data sync for every target."""

    full = BooleanField(
        "Full data sync",
        description="Send every target everything in scope, not only what changed since its "
        "last package. Use it to repair databases; it takes longer.",
    )


class FullPackageForm(FlaskForm):
    """Force a full package for one channel database through one of its schedules."""

    schedule = SelectField(
        "Distribution schedule",
        validators=[InputRequired("Choose a schedule.")],
        validate_choice=False,
    )


class SessionFilterForm(Form):
    """The filters of download session lists, read from the query string."""

    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status"), *(SelectChoice(s) for s in SESSION_STATUSES)],
        validate_choice=False,
    )
    store = StringField("Store number", render_kw={"placeholder": "Store number"})
    job = SelectField("Job", validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.job.choices = [SelectChoice("", "Any job"), *job_choices()]

    def filters(self) -> dict:
        """The chosen filters as arguments of `sessions_query`."""
        return {
            "status": self.status.data if self.status.data in SESSION_STATUSES else None,
            "store_number": (self.store.data or "").strip() or None,
            "job_number": self.job.data or None,
        }
