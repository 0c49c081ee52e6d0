"""A real worker process takes a task off the broker and runs it inside the portal."""

import os
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery, shared_task

from portal.channels import services as channels
from portal.channels.models import ChannelDataGroup
from portal.extensions import db

ROOT = Path(__file__).resolve().parents[2]
PROBE_TASK = "tests.core.test_celery.create_group"
WAIT_S = 15


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

    with _worker(broker, queue, database_uri, tmp_path, log) as worker:
        _wait_for(lambda: "ready." in log.read_text(), worker, log, "the worker to start")
        with Celery(broker=broker) as client:
            client.send_task(PROBE_TASK, args=[name], queue=queue)
            try:
                _wait_for(lambda: _group_exists(name), worker, log, f"group {name!r}")
            finally:
                _delete_queue(client, queue)

    group = db.session.scalar(sa.select(ChannelDataGroup).filter_by(name=name))
    assert group.description == "Created by a Celery worker"
    assert f"Task {PROBE_TASK}" in log.read_text()


@contextmanager
def _worker(broker: str, queue: str, database_uri: str, tmp_path: Path, log: Path):
    """`celery -A celery_worker worker` on the test database, stopped on leaving the block."""
    command = [
        sys.executable,
        "-m",
        "celery",
        f"--broker={broker}",
        "-A",
        "celery_worker",
        "worker",
        "--pool=solo",
        f"--queues={queue}",
        f"--include={__name__}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=info",
    ]
    env = {
        **os.environ,
        "DATABASE_URL": database_uri,
        "SECRET_KEY": "worker-under-test",
        "PACKAGE_STORE": str(tmp_path / "packages"),
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _delete_queue(client: Celery, queue: str) -> None:
    # Redis keeps a queue's bindings after the worker stops; declaring first lets kombu find them.
    with client.connection_for_write() as connection:
        bound = client.amqp.queues[queue].bind(connection.default_channel)
        bound.declare()
        bound.delete()


def _group_exists(name: str) -> bool:
    found = db.session.scalar(sa.select(ChannelDataGroup.id).filter_by(name=name)) is not None
    # End the read so the next poll sees what the worker has committed since.
    db.session.rollback()
    return found


def _wait_for(condition, worker: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if worker.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Gave up waiting for {what}; worker log:\n{log.read_text()}")
        time.sleep(0.2)
