"""The portal as its own processes for the load benchmarks: gunicorn, a Celery worker, figures.

Both run as in production, on the benchmark's PostgreSQL database and Redis, each writing a log
the benchmark reads for errors afterwards.
"""

import math
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from portal.agent.client import API_PATH

# The local Redis unless REDIS_URL names another: rate limits and the task queue live there.
REDIS = "redis://127.0.0.1:6379/0"
KEEP_ALIVE = 10
START_TIMEOUT = 60
ROOT = Path(__file__).resolve().parent.parent
_ERRORS = ("Traceback (most recent call last)", "[ERROR]", "[CRITICAL]", "ERROR/")


class Process:
    """A running part of the portal: its address (for the web server), and its log's errors."""

    def __init__(self, name: str, log: Path, url: str = ""):
        self.name = name
        self.log = log
        self.url = url

    def errors(self) -> list[str]:
        """Tracebacks and error lines of the process's log."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [f"{self.name}: {line}" for line in lines if any(e in line for e in _ERRORS)]


def _environment(database_url: str, packages: Path, extra: dict | None) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PACKAGE_STORE": str(packages),
        "REDIS_URL": os.environ.get("REDIS_URL") or REDIS,
        **(extra or {}),
    }


@contextmanager
def portal_server(
    database_url: str,
    packages: Path,
    log: Path,
    environment: dict | None = None,
    wsgi: str = "app:app",
) -> Iterator[Process]:
    """gunicorn serving the portal (or `wsgi`) on a free local port, stopped on the way out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Every process of the portal must sign sessions with the same key.
    environment = {"SECRET_KEY": secrets.token_hex(32), **(environment or {})}
    # gunicorn's advice of 2 × CPUs + 1 workers; threads, so a slow download holds no worker.
    workers = 2 * (os.cpu_count() or 1) + 1
    command = [
        sys.executable, "-m", "gunicorn", wsgi,
        "--chdir", str(ROOT),
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", "4",
        "--graceful-timeout", "10",
        # Idle connections must be closed by the client, not the server: httpx keeps them 5 s,
        # gunicorn 2 s by default, and a request sent as the server closes one is reset. Under
        # load, applying a package outlasts 2 s and the report after it met such resets.
        "--keep-alive", str(KEEP_ALIVE),
    ]  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            env=_environment(database_url, packages, environment),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        server = Process("server", log, f"http://127.0.0.1:{port}")
        _wait_until_serving(process, server)
        yield server
    finally:
        _stop(process)


def _wait_until_serving(process: subprocess.Popen, server: Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn stopped at start:\n{server.log.read_text()[-2000:]}")
        try:
            # Any answer will do (401 without a token): the app is loaded and serving.
            httpx.get(f"{server.url}{API_PATH}/config", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within {START_TIMEOUT} s")


@contextmanager
def celery_worker(
    database_url: str, packages: Path, log: Path, environment: dict | None = None
) -> Iterator[Process]:
    """`celery -A celery_worker worker` as the Procfile starts it, stopped on the way out.

    `environment` should name a CELERY_QUEUE of the benchmark's own, shared with the web server
    that hands it work; anything left in that queue by an earlier, interrupted run is purged.
    """
    command = [
        sys.executable, "-m", "celery", "-A", "celery_worker", "worker",
        "--concurrency", "2",
        "--loglevel", "info",
        "--purge",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=_environment(database_url, packages, environment),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        worker = Process("worker", log)
        deadline = time.monotonic() + START_TIMEOUT
        while "ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Celery worker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield worker
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the value that `fraction` of the values did not exceed."""
    ordered = sorted(values)
    return ordered[math.ceil(fraction * len(ordered)) - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, to a tenth below 10 ms."""
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
