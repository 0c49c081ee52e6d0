"""Forms for offline profiles and the editor of their offline scopes."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import Optional

from portal.core.errors import DomainError
from portal.core.forms import AmountField, WholeNumberField
from portal.masterdata.jobs import DOWNLOAD, STANDARD_JOBS
from portal.setup.offline_profiles.services import (
    FLAGS,
    LIMITS,
    MAX_OFFLINE_MINUTES,
    SCOPE_DIRECTIONS,
    THRESHOLDS,
    default_scopes,
)

SETTINGS = ("name", *LIMITS, *FLAGS, *THRESHOLDS)


def _number(label: str, field: str, help_text: str) -> WholeNumberField:
    low, high = LIMITS[field]
    return WholeNumberField(
        label,
        validators=[Optional()],
        render_kw={"min": low, "max": high},
        description=f"{help_text} Between {low} and {high}.",
    )


class ProfileForm(FlaskForm):
    """The name and settings of an offline profile; the scopes have their own editor."""

    name = StringField(
        "Name",
        render_kw={"maxlength": 60},
        description="Unique. Registers and stores choose their offline profile by this name.",
    )
    offline_timeout_s = _number(
        "Offline switch time-out (seconds)",
        "offline_timeout_s",
        "If a data request does not succeed within this many seconds, the register switches to "
        "its offline database and continues the sale.",
    )
    reconnect_interval_min = _number(
        "Reconnection attempt interval (minutes)",
        "reconnect_interval_min",
        "While offline, the register tries to reconnect after this interval, and only at the "
        "start of a transaction.",
    )
    pause_sync = BooleanField(
        "Pause offline synchronization",
        description="Stops generating data for every offline database that uses this profile.",
    )
    allow_manual_switch_before_sign_in = BooleanField(
        "Allow manual switch to offline before sign-in",
        description="Lets staff switch a register to its offline database before anyone signs "
        "in, e.g. when the server cannot be reached at opening time.",
    )
    advanced_offline_switching = BooleanField(
        "Advanced offline switching",
        description="Switches the register to offline as soon as the system health check finds "
        "the server unreachable, instead of waiting for a request to time out during a sale.",
    )
    health_check_interval_min = _number(
        "System health check interval (minutes)",
        "health_check_interval_min",
        "How often the register checks that the server can be reached.",
    )

    max_offline_minutes = WholeNumberField(
        "Longest offline time before sales are flagged (minutes)",
        validators=[Optional()],
        render_kw={"min": MAX_OFFLINE_MINUTES[0], "max": MAX_OFFLINE_MINUTES[1]},
        description="Auditors see an anomaly on each sale a register makes after it has been "
        "offline this long. Empty: no threshold.",
    )
    max_offline_total = AmountField(
        "Largest offline sale before it is flagged",
        validators=[Optional()],
        places=2,
        render_kw={"min": "0.01", "step": "0.01"},
        description="Auditors see an anomaly on each offline sale above this total, in the "
        "store's currency. Empty: no threshold.",
    )

    def settings(self) -> dict:
        """The fields as the service's input, keyed by its field names."""
        return {name: self[name].data for name in SETTINGS}


class ScopeForm(Form):
    """One row of the scope editor: a scope's name, direction and tables."""

    # The service judges every value, so its messages (not WTForms' choice checks) are shown.
    name = StringField("Scope name", render_kw={"maxlength": 60})
    direction = SelectField(
        "Direction",
        choices=[SelectChoice(direction, direction.capitalize()) for direction in SCOPE_DIRECTIONS],
        validate_choice=False,
    )
    tables = SelectMultipleField(
        "Tables",
        choices=[
            SelectChoice(table, optgroup=f"{job.job_number} {job.name}")
            for job in STANDARD_JOBS
            for table in job.tables
        ],
        validate_choice=False,
    )


class ScopesForm(FlaskForm):
    """The ordered offline scopes of one profile."""

    scopes = FieldList(FormField(ScopeForm))

    def show_scope_errors(self, error: DomainError) -> None:
        """Put the service's `scopes.<index>.<field>` messages on the rows they are about."""
        for key, message in error.fields.items():
            parts = key.split(".")
            if len(parts) != 3 or parts[0] != "scopes" or not parts[1].isdigit():
                continue
            index, name = int(parts[1]), parts[2]
            if index < len(self.scopes.entries) and name in self.scopes.entries[index].form:
                field = self.scopes.entries[index].form[name]
                field.errors = [*field.errors, message]


def scope_rows(scopes) -> list[dict]:
    """A profile's scopes as editor rows (and as the service's scope input)."""
    return [
        {"name": scope.name, "direction": scope.direction, "tables": list(scope.tables)}
        for scope in scopes
    ]


def edit_scope_rows(rows: list[dict], action: str) -> list[dict]:
    """Apply an editor button (add, defaults, remove-N, up-N, down-N) to unsaved rows."""
    rows = list(rows)
    if action == "add":
        return [*rows, {"name": "", "direction": DOWNLOAD, "tables": []}]
    if action == "defaults":
        return default_scopes()
    verb, _, number = action.partition("-")
    if not number.isdigit() or int(number) >= len(rows):
        return rows
    index = int(number)
    if verb == "remove":
        del rows[index]
    elif verb == "up" and index > 0:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif verb == "down" and index + 1 < len(rows):
        rows[index], rows[index + 1] = rows[index + 1], rows[index]
    return rows
