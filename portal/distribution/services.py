"""Rules for the scheduler job catalogue and distribution schedules."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.channels import services as channels
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.validation import FieldErrors, check_range, normalise_name, normalise_number
from portal.distribution.catalogue import STANDARD_JOBS
from portal.distribution.models import DistributionSchedule, SchedulerJob
from portal.extensions import db


def ensure_standard_jobs() -> int:
    """Add the standard jobs that are missing; returns how many were added (idempotent)."""
    existing = set(db.session.scalars(sa.select(SchedulerJob.job_number)))
    added = 0
    for job in STANDARD_JOBS:
        if job.job_number not in existing:
            db.session.add(
                SchedulerJob(
                    job_number=job.job_number,
                    name=job.name,
                    direction=job.direction,
                    tables=list(job.tables),
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
    _apply(schedule, {"name": code, "jobs": [], "groups": [], **data})
    db.session.add(schedule)
    db.session.flush()
    audit.record("create", "distribution_schedule", code, after=_snapshot(schedule))
    return schedule


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
    if "interval_minutes" in data:
        with errors.check():
            minutes = data["interval_minutes"]
            schedule.interval_minutes = (
                None
                if minutes in (None, "", 0)
                else check_range(minutes, "interval_minutes", 1, 44640)
            )
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
