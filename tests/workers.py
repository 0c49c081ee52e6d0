"""Real Celery worker processes for tests: started on the test database, stopped or killed."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 30


@contextmanager
def worker_process(
    broker: str,
    queue: str,
    database_uri: str,
    tmp_path: Path,
    log: Path,
    *extra,
    settings: dict[str, str] | None = None,
):
    """`celery -A celery_worker worker` consuming `queue`, stopped on leaving the block.

    `settings` are more environment variables of the worker's configuration.
    """
    command = [
        sys.executable,
        "-m",
        "celery",
        f"--broker={broker}",
        "-A",
        "celery_worker",
        "worker",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=info",
        *extra,
    ]
    env = {
        **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        **({"REDIS_URL": broker} if broker.startswith("redis") else {}),
        "DATABASE_URL": database_uri,
        "CELERY_QUEUE": queue,
        "SECRET_KEY": "worker-under-test",
        "PACKAGE_STORE": str(tmp_path / "packages"),
        **(settings or {}),
    }
    with log.open("a") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_for(lambda: "ready." in log.read_text(), process, log, "the worker to start")
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def delete_queue(client: Celery, queue: str) -> None:
    """Remove a test queue from the broker (Redis keeps bindings after the worker stops)."""
    with client.connection_for_write() as connection:
        bound = client.amqp.queues[queue].bind(connection.default_channel)
        bound.declare()
        bound.delete()


def wait_for(condition, worker: subprocess.Popen, log: Path, what: str) -> None:
    """Poll `condition` until true; fail with the worker's log if it dies or time runs out."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if worker.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Gave up waiting for {what}; worker log:\n{log.read_text()}")
        time.sleep(0.1)
