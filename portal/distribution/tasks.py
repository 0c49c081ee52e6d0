"""Celery tasks of the distribution engine; they take ids and call the services."""

from datetime import timedelta

from celery import shared_task
from flask import current_app
from kombu.exceptions import OperationalError

from portal.core.extensions import db
from portal.distribution import builds, retention, runs


@shared_task(name="distribution.start_run", acks_late=True)
def start_run(run_id: int) -> int:
    """Plan a run and fan its sessions out to the workers in batches; returns the batches."""
    session_ids = runs.plan_run(run_id)
    db.session.commit()
    return enqueue_builds(session_ids)


@shared_task(name="distribution.build_packages", acks_late=True)
def build_packages(session_ids: list[int]) -> dict[int, str]:
    """Build a batch of download sessions' packages (a redelivery changes nothing)."""
    claimed = builds.claim(session_ids)
    # Commit the claim so the reaper sees the builds have started and leaves them alone.
    db.session.commit()
    statuses = builds.build_sessions(claimed)
    db.session.commit()
    return statuses


def enqueue_builds(session_ids: list[int], retry: bool = True) -> int:
    """Hand sessions to the workers, a batch per task; returns how many tasks were sent.

    A page passes `retry=False` to answer at once when the broker is down.
    """
    return send_batches(builds.batches(session_ids), retry)


def send_batches(batches: list[list[int]], retry: bool = True) -> int:
    """Send one build task per batch of sessions; returns how many were sent."""
    for batch in batches:
        build_packages.apply_async((batch,), retry=retry)
    return len(batches)


@shared_task(name="distribution.tick", acks_late=True)
def tick() -> int:
    """Beat's heartbeat: start due and waiting runs, and rebuild (or give up on) lost builds."""
    config = current_app.config
    run_ids = runs.due_runs()
    lost = runs.reap_lost_builds(
        timedelta(minutes=config["STALLED_BUILD_MINUTES"]), config["MAX_BUILD_ATTEMPTS"]
    )
    db.session.commit()
    return sum(dispatch_run(run_id) for run_id in run_ids) + send_batches(lost)


@shared_task(name="distribution.clean_packages", acks_late=True)
def clean_packages() -> int:
    """Beat's hourly clean-up of package files nobody needs any more; returns how many went."""
    removed = retention.clean_packages(timedelta(days=current_app.config["PACKAGE_RETENTION_DAYS"]))
    db.session.commit()
    return removed


def dispatch_run(run_id: int) -> bool:
    """Hand a committed run to the workers; if the broker is unreachable it stays waiting."""
    try:
        start_run.apply_async((run_id,), retry=False)
    except OperationalError as error:
        runs.mark_undispatched(run_id, str(error))
        db.session.commit()
        return False
    return True
