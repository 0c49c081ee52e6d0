"""Celery tasks of the device side of HQ."""

from celery import shared_task

from portal.core.extensions import db
from portal.device_api import fleet


@shared_task(name="device_api.sample_fleet", acks_late=True)
def sample_fleet() -> int:
    """Beat's five-minutely count of registers per state, for the dashboard's chart; its id.

    It also drops the history older than the chart can show, so it does not grow forever.
    """
    sample = fleet.take_sample()
    fleet.prune_history()
    db.session.commit()
    return sample.id
