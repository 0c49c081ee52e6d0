"""Forms for the scheduler job catalogue and the scheduler's parameters."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import InputRequired

from portal.core.forms import WholeNumberField
from portal.distribution import jobs, parameters
from portal.distribution.models import SchedulerJob


class JobForm(FlaskForm):
    """A scheduler job's settings that can change: name, tables, exclusion from offline."""

    name = StringField("Name", render_kw={"maxlength": 100})
    # The service names an unknown table on the field, as it does through the API.
    tables = SelectMultipleField(
        "Tables",
        validate_choice=False,
        render_kw={"size": 12},
        description="The distributable tables the job carries, in package order. Changing them "
        "sends every target a full package of this job on its next run. Hold Ctrl (or Cmd) to "
        "choose several.",
    )
    exclude_from_offline = BooleanField(
        "Exclude from offline databases",
        description="Registers' offline databases do not receive this job.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tables.choices = [SelectChoice(name, name) for name in jobs.distributable_tables()]

    @staticmethod
    def initial(job: SchedulerJob) -> dict:
        """The form's values for an existing job."""
        return {
            "name": job.name,
            "tables": list(job.tables),
            "exclude_from_offline": job.exclude_from_offline,
        }

    def to_data(self) -> dict:
        """The fields as the job service takes them."""
        return {
            "name": self.name.data,
            "tables": list(self.tables.data or []),
            "exclude_from_offline": self.exclude_from_offline.data,
        }


class NewJobForm(JobForm):
    """A new download job: its number too."""

    job_number = StringField(
        "Job number",
        validators=[InputRequired()],
        render_kw={"maxlength": 20},
        description="E.g. 1300; letters, digits and dashes.",
    )

    def to_data(self) -> dict:
        """The fields as the job service takes them, with the number."""
        return {"job_number": self.job_number.data, **super().to_data()}


class ParametersForm(FlaskForm):
    """Every scheduler parameter, one whole number each."""

    @classmethod
    def build(cls, values: dict[str, int]) -> "ParametersForm":
        """A form with one field per parameter, filled with the current values."""

        class Form(cls):
            pass

        for name, parameter in parameters.PARAMETERS.items():
            field = WholeNumberField(
                parameter.label,
                validators=[InputRequired()],
                render_kw={"min": parameter.low, "max": parameter.high},
                description=parameter.help,
            )
            setattr(Form, name, field)
        # A posted form reads the request; `values` fill it otherwise.
        return Form(data=values)

    def to_data(self) -> dict:
        """The parameters as the service takes them."""
        return {name: getattr(self, name).data for name in parameters.PARAMETERS}
