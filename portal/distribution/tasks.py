"""Celery tasks of the distribution engine; they take ids and call the services."""

from datetime import timedelta

import sqlalchemy as sa
from celery import shared_task
from flask import Flask
from kombu.exceptions import OperationalError

from portal.core.extensions import db
from portal.distribution import (
    alerts,
    builds,
    history,
    parameters,
    retention,
    runs,
    upload_requests,
    webhooks,
)

# A delivery whose next try is this late lost its task (a worker died, the broker was down).
DELIVERY_GRACE = timedelta(minutes=2)


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
    """Beat's heartbeat: start due and waiting runs, rebuild (or give up on) lost builds, and
    fail the upload requests of devices gone silent."""
    run_ids = runs.due_runs()
    lost = runs.reap_lost_builds(
        timedelta(minutes=parameters.current("stalled_build_minutes")),
        parameters.current("max_build_attempts"),
    )
    upload_requests.fail_silent()
    db.session.commit()
    return sum(dispatch_run(run_id) for run_id in run_ids) + send_batches(lost)


@shared_task(name="distribution.clean_packages", acks_late=True)
def clean_packages() -> int:
    """Beat's hourly clean-up of package files nobody needs any more; returns how many went."""
    days = parameters.current("package_retention_days")
    removed = retention.clean_packages(timedelta(days=days))
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


@shared_task(name="distribution.prune_history", acks_late=True)
def prune_history() -> int:
    """Beat's hourly clean-up of download sessions older than the history days; returns them."""
    removed = history.prune_sessions(timedelta(days=parameters.current("session_history_days")))
    db.session.commit()
    return removed


@shared_task(name="distribution.check_alerts", acks_late=True)
def check_alerts() -> int:
    """Beat's check of databases behind, and of webhook deliveries whose task was lost."""
    alerts.check_behind()
    db.session.commit()
    lost = webhooks.overdue(DELIVERY_GRACE)
    for delivery_id in lost:
        deliver_webhook.apply_async((delivery_id,), retry=False)
    return len(lost)


@shared_task(name="distribution.deliver_webhook", bind=True, acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> None:
    """Send one webhook delivery; a failed try comes back after a growing pause."""
    wait = webhooks.deliver(delivery_id)
    db.session.commit()
    if wait is not None:
        raise self.retry(countdown=wait)


def init_app(app: Flask) -> None:
    """Send the webhook deliveries a unit of work made once it commits (never before)."""
    session_class = db.session.session_factory.class_
    if not sa.event.contains(session_class, "after_commit", _send_deliveries):
        sa.event.listen(session_class, "after_commit", _send_deliveries)
        sa.event.listen(session_class, "after_rollback", _forget_deliveries)


def _send_deliveries(session) -> None:
    for delivery_id in session.info.pop(alerts.PENDING_KEY, []):
        try:
            deliver_webhook.apply_async((delivery_id,), retry=False)
        except Exception:  # noqa: BLE001
            # The broker is away: beat's check sends the overdue deliveries once it is back.
            break


def _forget_deliveries(session) -> None:
    session.info.pop(alerts.PENDING_KEY, None)
