"""Rules for the scheduler job catalogue and distribution schedules."""

from datetime import timedelta

import sqlalchemy as sa

from portal.audit import services as audit
from portal.channels import services as channels
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.models import utcnow
from portal.core.validation import FieldErrors, check_range, normalise_name, normalise_number
from portal.distribution.catalogue import JOB_CATALOGUE, OFFLINE_SCOPES_JOB
from portal.distribution.models import DistributionRun, DistributionSchedule, SchedulerJob
from portal.extensions import db


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
    _apply(schedule, {"name": code, "jobs": [], "groups": [], **data})
    db.session.add(schedule)
    db.session.flush()
    audit.record("create", "distribution_schedule", code, after=_snapshot(schedule))
    return schedule


def update_schedule(schedule: DistributionSchedule, data: dict) -> DistributionSchedule:
    """Change a schedule; a new or changed recurrence next falls due one interval from now."""
    before = _snapshot(schedule)
    interval = schedule.interval_minutes
    _apply(schedule, data)
    if schedule.interval_minutes is None:
        schedule.next_run_at = None
    elif schedule.interval_minutes != interval:
        schedule.next_run_at = utcnow() + timedelta(minutes=schedule.interval_minutes)
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
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(
            sa.or_(DistributionSchedule.code.ilike(like), DistributionSchedule.name.ilike(like))
        )
    return stmt


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
