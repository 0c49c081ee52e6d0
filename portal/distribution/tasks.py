"""Celery tasks of the distribution engine; they take ids and call the services."""

from celery import shared_task

from portal.distribution import builds, runs
from portal.extensions import db


@shared_task(name="distribution.start_run", acks_late=True)
def start_run(run_id: int) -> int:
    """Plan a run and fan its sessions out to the workers; returns how many were enqueued."""
    session_ids = runs.plan_run(run_id)
    db.session.commit()
    for session_id in session_ids:
        build_package.delay(session_id)
    return len(session_ids)


@shared_task(name="distribution.build_package", acks_late=True)
def build_package(session_id: int) -> str | None:
    """Build one download session's package (idempotent: a redelivery changes nothing)."""
    status = builds.build_session(session_id)
    db.session.commit()
    return status
