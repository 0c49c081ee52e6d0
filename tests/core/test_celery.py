"""A real worker process takes a task off the broker and runs it inside the portal."""

import os
import uuid

import pytest
import sqlalchemy as sa
from celery import Celery, shared_task

from portal.core.extensions import db
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDataGroup
from tests.workers import delete_queue, wait_for, worker_process

PROBE_TASK = "tests.core.test_celery.create_group"


@shared_task(name=PROBE_TASK)
def create_group(name: str) -> None:
    """The probe a worker runs: a write through a service, committed at the task boundary."""
    channels.create_group(name, "Created by a Celery worker")
    db.session.commit()


@pytest.mark.parametrize(
    "transport",
    [
        "embedded",
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set"),
        ),
    ],
)
def test_worker_consumes_a_task_from_the_broker(
    transport, app_ctx, database_uri, tmp_path, monkeypatch
):
    if transport == "redis":
        broker = os.environ["REDIS_URL"]
    else:
        broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
        monkeypatch.delenv("REDIS_URL", raising=False)
    # A queue of its own keeps parallel runs on one Redis from taking each other's tasks.
    queue = f"probe-{uuid.uuid4().hex[:10]}"
    name = f"Worker group {uuid.uuid4().hex[:6]}"
    log = tmp_path / "worker.log"

    include = f"--include={__name__}"
    with (
        worker_process(broker, queue, database_uri, tmp_path, log, include) as worker,
        Celery(broker=broker, set_as_current=False) as client,
    ):
        client.send_task(PROBE_TASK, args=[name], queue=queue)
        try:
            wait_for(lambda: _group_exists(name), worker, log, f"group {name!r}")
        finally:
            delete_queue(client, queue)

    group = db.session.scalar(sa.select(ChannelDataGroup).filter_by(name=name))
    assert group.description == "Created by a Celery worker"
    assert f"Task {PROBE_TASK}" in log.read_text()


def _group_exists(name: str) -> bool:
    found = db.session.scalar(sa.select(ChannelDataGroup.id).filter_by(name=name)) is not None
    # End the read so the next poll sees what the worker has committed since.
    db.session.rollback()
    return found
