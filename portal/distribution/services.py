"""Rules for the scheduler job catalogue and distribution schedules."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from croniter import CroniterBadDateError, CroniterError, croniter

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.search import search
from portal.core.validation import (
    FieldErrors,
    check_range,
    check_time_zone,
    normalise_name,
    normalise_number,
)
from portal.distribution.models import DistributionRun, DistributionSchedule, SchedulerJob
from portal.masterdata.jobs import JOB_CATALOGUE, OFFLINE_SCOPES_JOB
from portal.setup.channels import services as channels

CRON_FORMAT = "Not a cron expression: 5 fields, e.g. 0 2 * * *."
CRON_MAX_LENGTH = 200
# A change to any of these moves a schedule's next run.
RECURRENCE = ("interval_minutes", "cron", "time_zone", "enabled")


def ensure_standard_jobs() -> int:
    """Add the standard jobs that are missing; returns how many were added (idempotent)."""
    existing = set(db.session.scalars(sa.select(SchedulerJob.job_number)))
    added = 0
    for job in JOB_CATALOGUE:
        if job.job_number not in existing:
            db.session.add(
                SchedulerJob(
                    job_number=job.job_number,
                    name=job.name,
                    direction=job.direction,
                    tables=list(job.tables),
                    exclude_from_offline=job is OFFLINE_SCOPES_JOB,
                )
            )
            added += 1
    db.session.flush()
    return added


def list_jobs() -> list[SchedulerJob]:
    """All scheduler jobs by job number."""
    return list(db.session.scalars(sa.select(SchedulerJob).order_by(SchedulerJob.job_number)))


def get_schedule(code: str) -> DistributionSchedule:
    """The distribution schedule with this code, or NotFound."""
    schedule = db.session.scalar(sa.select(DistributionSchedule).filter_by(code=code))
    if schedule is None:
        raise NotFound(f"Distribution schedule '{code}' does not exist.")
    return schedule


def create_schedule(data: dict) -> DistributionSchedule:
    """Create a schedule for jobs (by number) and target groups (by name)."""
    code = normalise_number(data.get("code"), "code", 20)
    if db.session.scalar(sa.select(DistributionSchedule.id).filter_by(code=code)) is not None:
        raise Conflict(f"Distribution schedule '{code}' already exists.", {"code": "Taken."})
    schedule = DistributionSchedule(code=code)
    defaults = {"name": code, "jobs": [], "groups": [], "time_zone": "UTC", "enabled": True}
    _apply(schedule, {**defaults, **data})
    set_next_run(schedule, utcnow())
    db.session.add(schedule)
    db.session.flush()
    audit.record("create", "distribution_schedule", code, after=_snapshot(schedule))
    return schedule


def update_schedule(schedule: DistributionSchedule, data: dict) -> DistributionSchedule:
    """Change a schedule; a changed recurrence, or enabling it, sets its next run anew."""
    before = _snapshot(schedule)
    _apply(schedule, data)
    if any(before[key] != getattr(schedule, key) for key in RECURRENCE):
        set_next_run(schedule, utcnow())
    db.session.flush()
    audit.record("update", "distribution_schedule", schedule.code, before, _snapshot(schedule))
    return schedule


def delete_schedule(schedule: DistributionSchedule) -> None:
    """Delete a schedule that has never run; one with runs keeps its history."""
    count = db.session.scalar(
        sa.select(sa.func.count()).where(DistributionRun.schedule_id == schedule.id)
    )
    if count:
        raise Conflict(
            f"Distribution schedule '{schedule.code}' has {count} run(s) whose history is kept; "
            "disable it instead."
        )
    audit.record("delete", "distribution_schedule", schedule.code, before=_snapshot(schedule))
    db.session.delete(schedule)
    db.session.flush()


def schedules_query(q: str | None = None) -> sa.Select:
    """Distribution schedules by code, optionally matching a search on code or name."""
    stmt = sa.select(DistributionSchedule).order_by(DistributionSchedule.code)
    return search(stmt, q, DistributionSchedule.code, DistributionSchedule.name)


def set_next_run(schedule: DistributionSchedule, now: datetime) -> None:
    """Set when a schedule next falls due after `now`: one interval on, or its next cron time.

    The one rule for a schedule created, changed or enabled, and for one that has just run; a
    schedule that was due long ago (the scheduler was down) thus runs once, not once per slot.
    """
    if not schedule.enabled:
        schedule.next_run_at = None
    elif schedule.cron:
        schedule.next_run_at = next_cron_time(schedule.cron, schedule.time_zone, now)
    elif schedule.interval_minutes:
        schedule.next_run_at = now + timedelta(minutes=schedule.interval_minutes)
    else:
        schedule.next_run_at = None


def next_cron_time(expression: str, time_zone: str, after: datetime) -> datetime:
    """The first time after `after` that a cron expression matches on the zone's clock, in UTC.

    A time in the hour that spring skips runs once, when the clocks go forward (croniter's
    reading). The hour that autumn repeats runs once: its second pass is skipped, so "30 1 * * *"
    does not send the night's packages twice.
    """
    times = croniter(expression, after.astimezone(ZoneInfo(time_zone)))
    moment = times.get_next(datetime)
    while moment.fold and moment.replace(fold=0).utcoffset() != moment.utcoffset():
        moment = times.get_next(datetime)
    return moment.astimezone(UTC)


def check_cron(value: str | None) -> str | None:
    """Return a 5-field cron expression with single spaces, None for an empty one, or raise."""
    expression = " ".join((value or "").split())
    if not expression:
        return None
    if len(expression) > CRON_MAX_LENGTH:
        message = f"At most {CRON_MAX_LENGTH} characters."
        raise ValidationFailed("Cron expression is too long.", {"cron": message})
    refused = ValidationFailed(
        f"Cron expression '{expression}' is not valid.", {"cron": CRON_FORMAT}
    )
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise refused
    try:
        croniter(expression, utcnow()).get_next(datetime)
    except CroniterBadDateError:
        message = "It matches no date (e.g. 31 February); check the day and month."
        raise ValidationFailed(
            f"Cron expression '{expression}' never falls due.", {"cron": message}
        ) from None
    except CroniterError:
        raise refused from None
    return expression


def _recur(schedule: DistributionSchedule, data: dict, errors: FieldErrors) -> None:
    # Giving one recurrence replaces the other, so a PATCH can switch between them.
    interval = cron = None
    with errors.check():
        minutes = data.get("interval_minutes")
        if minutes not in (None, "", 0):
            interval = check_range(minutes, "interval_minutes", 1, 44640)
    with errors.check():
        cron = check_cron(data.get("cron"))
    if interval is not None and cron is not None:
        with errors.check():
            raise ValidationFailed(
                "Give an interval in minutes or a cron expression, not both.",
                {
                    "interval_minutes": "Leave empty when a cron expression is given.",
                    "cron": "Leave empty when an interval is given.",
                },
            )
    if errors.messages:
        return
    if "interval_minutes" in data or cron is not None:
        schedule.interval_minutes = interval
    if "cron" in data or interval is not None:
        schedule.cron = cron


def _apply(schedule: DistributionSchedule, data: dict) -> None:
    errors = FieldErrors()
    if "name" in data:
        with errors.check():
            schedule.name = normalise_name(data["name"], "name", 100)
    if "jobs" in data:
        with errors.check():
            schedule.jobs = _jobs(data["jobs"])
    if "groups" in data:
        with errors.check():
            schedule.groups = [channels.resolve_group(name, "groups") for name in data["groups"]]
    if "interval_minutes" in data or "cron" in data:
        _recur(schedule, data, errors)
    if "time_zone" in data:
        with errors.check():
            schedule.time_zone = check_time_zone(data["time_zone"])
    for flag in ("full_sync", "enabled"):
        if flag in data:
            setattr(schedule, flag, bool(data[flag]))
    errors.raise_if_any()


def _jobs(numbers: list[str]) -> list[SchedulerJob]:
    jobs = list(
        db.session.scalars(sa.select(SchedulerJob).where(SchedulerJob.job_number.in_(numbers)))
    )
    unknown = sorted(set(numbers) - {job.job_number for job in jobs})
    if unknown:
        raise ValidationFailed(
            f"Unknown scheduler job(s): {', '.join(unknown)}.", {"jobs": "Unknown job number."}
        )
    return jobs


def _snapshot(schedule: DistributionSchedule) -> dict:
    values = audit.snapshot(schedule)
    values["jobs"] = [job.job_number for job in schedule.jobs]
    values["groups"] = [group.name for group in schedule.groups]
    return values
