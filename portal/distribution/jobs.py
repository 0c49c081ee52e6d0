"""Rules for the scheduler job catalogue: jobs HQ renames, reshapes or makes from its tables.

A job's tables are part of every target's scope fingerprint (`builds.scope_key`), so a job whose
tables change gives each of its targets a full package on its next run, as a scope change does.
"""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.search import search
from portal.core.validation import FieldErrors, normalise_name, normalise_number
from portal.distribution.models import SchedulerJob
from portal.distribution.tables import TABLES
from portal.masterdata.jobs import DOWNLOAD, UPLOAD


def distributable_tables() -> list[str]:
    """The tables a download job may carry, in the standard jobs' order."""
    return list(TABLES)


def get_job(job_number: str) -> SchedulerJob:
    """The scheduler job with this number, or NotFound."""
    job = db.session.scalar(sa.select(SchedulerJob).filter_by(job_number=job_number))
    if job is None:
        raise NotFound(f"Scheduler job '{job_number}' does not exist.")
    return job


def jobs_query(q: str | None = None) -> sa.Select:
    """Scheduler jobs by number, optionally matching a search on number or name."""
    stmt = sa.select(SchedulerJob).order_by(SchedulerJob.job_number)
    return search(stmt, q, SchedulerJob.job_number, SchedulerJob.name)


def create_job(data: dict) -> SchedulerJob:
    """Make a download job carrying distributable tables; audited."""
    number = normalise_number(data.get("job_number"), "job_number", 20)
    if db.session.scalar(sa.select(SchedulerJob.id).filter_by(job_number=number)) is not None:
        raise Conflict(f"Scheduler job '{number}' already exists.", {"job_number": "Taken."})
    job = SchedulerJob(job_number=number, direction=DOWNLOAD, exclude_from_offline=False)
    _apply(job, {"name": number, "tables": [], **data}, new=True)
    db.session.add(job)
    db.session.flush()
    audit.record("create", "scheduler_job", number, after=audit.snapshot(job))
    return job


def update_job(job: SchedulerJob, data: dict) -> SchedulerJob:
    """Change a job's name, tables or exclusion from offline databases; audited.

    Changed tables reach every target as a full package on the job's next run.
    """
    before = audit.snapshot(job)
    _apply(job, data, new=False)
    db.session.flush()
    audit.record("update", "scheduler_job", job.job_number, before, audit.snapshot(job))
    return job


def _apply(job: SchedulerJob, data: dict, new: bool) -> None:
    errors = FieldErrors()
    if "name" in data:
        with errors.check():
            job.name = normalise_name(data["name"], "name", 100)
    if job.direction == UPLOAD and not new:
        for field in ("tables", "exclude_from_offline"):
            if field in data and data[field] != getattr(job, field):
                with errors.check():
                    raise ValidationFailed(
                        f"Job {job.job_number} carries what registers upload; only its name "
                        "can change.",
                        {field: "Fixed for an upload job."},
                    )
        errors.raise_if_any()
        return
    if "tables" in data:
        with errors.check():
            job.tables = check_tables(data["tables"])
    if "exclude_from_offline" in data:
        job.exclude_from_offline = bool(data["exclude_from_offline"])
    errors.raise_if_any()


def check_tables(names) -> list[str]:
    """A job's tables: at least one, each distributable and named once; else ValidationFailed."""
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ValidationFailed("Tables must be a list of table names.", {"tables": "A list."})
    names = [name.strip() for name in names]
    if not names:
        raise ValidationFailed("A job carries at least one table.", {"tables": "Choose one."})
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise ValidationFailed(
            f"Not a distributable table: {', '.join(sorted(set(unknown)))[:300]}.",
            {"tables": "Choose from the distributable tables listed on the job's page."},
        )
    if len(set(names)) != len(names):
        raise ValidationFailed("A table is named twice.", {"tables": "Name each table once."})
    return names
