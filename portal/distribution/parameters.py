"""The scheduler's parameters: stored in the database, read afresh by every task and request.

An environment variable only gives a parameter its value on a fresh install, until someone saves
the parameters page; from then on the stored value counts. The values are read once per request
or task (kept in its app context, never in the process), so a worker takes a change on its next
task, without a restart.
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import Mapped, mapped_column

from portal.audit import services as audit
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow
from portal.core.validation import FieldErrors, check_range


class SchedulerParameter(db.Model):
    """One stored parameter; a parameter without a row takes its default from the settings."""

    __tablename__ = "scheduler_parameter"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[int] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class Parameter:
    """A parameter's setting (its environment default), bounds and words for the page."""

    name: str
    setting: str
    low: int
    high: int
    label: str
    help: str


# Where a request's or task's values are kept (`flask.g`, one per app context).
_CACHE = "_scheduler_parameters"

PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter(
            "try_count",
            "SESSION_TRY_COUNT",
            1,
            100,
            "Try count",
            "A package a device fails to download or apply is offered again this many times "
            "in all before its session ends failed. An upload request (P-0001) fails after "
            "asking this many times, or after this many health-check intervals of silence.",
        ),
        Parameter(
            "package_retention_days",
            "PACKAGE_RETENTION_DAYS",
            1,
            3650,
            "Package retention (days)",
            "Package files every target has applied are removed after this many days.",
        ),
        Parameter(
            "stalled_build_minutes",
            "STALLED_BUILD_MINUTES",
            1,
            1440,
            "Stalled build (minutes)",
            "A package build that has not finished after this long is handed to a worker again.",
        ),
        Parameter(
            "max_build_attempts",
            "MAX_BUILD_ATTEMPTS",
            1,
            100,
            "Max build attempts",
            "A session whose build was started this many times and lost each time ends "
            "create_failed.",
        ),
        Parameter(
            "device_silent_minutes",
            "DEVICE_SILENT_MINUTES",
            1,
            10080,
            "Device silent (minutes)",
            "A device that has sent no heartbeat for this long counts as offline.",
        ),
        Parameter(
            "device_behind_minutes",
            "DEVICE_BEHIND_MINUTES",
            1,
            10080,
            "Device behind (minutes)",
            "A database with a package waiting longer than this counts as behind, and raises "
            "an alert.",
        ),
        Parameter(
            "session_history_days",
            "SESSION_HISTORY_DAYS",
            1,
            3650,
            "Session history (days)",
            "Download sessions applied or ended this long ago are deleted, except each "
            "database's latest of each job.",
        ),
    )
}


def default(name: str) -> int:
    """The value a parameter has until it is saved: its setting, from the environment."""
    return int(current_app.config[PARAMETERS[name].setting])


def current(name: str) -> int:
    """The parameter's value now: the stored one, else its default."""
    if name not in PARAMETERS:
        raise KeyError(f"Unknown scheduler parameter '{name}'.")
    return values()[name]


def values() -> dict[str, int]:
    """Every parameter's current value, in the page's order (read once per app context)."""
    cached = g.get(_CACHE)
    if cached is None:
        rows = db.session.execute(sa.select(SchedulerParameter.name, SchedulerParameter.value))
        stored = {name: value for name, value in rows}
        cached = {name: stored.get(name, default(name)) for name in PARAMETERS}
        setattr(g, _CACHE, cached)
    return dict(cached)


def forget() -> None:
    """Read the parameters afresh on their next use in this app context."""
    g.pop(_CACHE, None)


def update(data: dict) -> dict[str, int]:
    """Store the given parameters (all or some), checked against their bounds; audited."""
    forget()
    before = values()
    errors = FieldErrors()
    checked = {}
    for name, value in data.items():
        parameter = PARAMETERS.get(name)
        with errors.check():
            if parameter is None:
                raise ValidationFailed(
                    f"Unknown scheduler parameter '{name}'.", {name: "Unknown parameter."}
                )
            checked[name] = check_range(value, name, parameter.low, parameter.high)
    errors.raise_if_any()
    for name, value in checked.items():
        row = db.session.get(SchedulerParameter, name)
        if row is None:
            db.session.add(SchedulerParameter(name=name, value=value))
        elif row.value != value:
            row.value = value
    db.session.flush()
    forget()
    after = values()
    audit.record("update", "scheduler_parameters", "scheduler", before, after)
    return after
