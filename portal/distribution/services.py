"""Rules for the scheduler job catalogue."""

import sqlalchemy as sa

from portal.distribution.catalogue import STANDARD_JOBS
from portal.distribution.models import SchedulerJob
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
