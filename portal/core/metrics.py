"""Prometheus metrics every process keeps: HTTP requests, package builds, sales, Celery tasks.

The figures a process counts itself live here, so any package may observe them without
importing another; what the database knows (runs, sessions, devices, anomalies) is counted at
scrape time by the `/metrics` endpoint. With `PROMETHEUS_MULTIPROC_DIR` set (before the process
starts), prometheus_client keeps every process's figures in that folder and a scrape adds them
up: gunicorn's workers and the Celery workers of the same machine answer as one.
"""

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

PREFIX = "hqportal"

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
HTTP_LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint and method (streamed bodies excluded).",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PACKAGE_BUILD_SECONDS = Histogram(
    f"{PREFIX}_package_build_seconds",
    "Time to write one package file, by job.",
    ["job"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
PACKAGE_BYTES = Histogram(
    f"{PREFIX}_package_bytes",
    "Size of each package file written, by job.",
    ["job"],
    buckets=(1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9),
)
SALE_UPLOAD_LATENCY = Histogram(
    f"{PREFIX}_sale_upload_latency_seconds",
    "From a sale made on the register to its arrival at HQ.",
    buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600, 30 * 24 * 3600),
)
TASK_FAILURES = Counter(
    f"{PREFIX}_celery_task_failures",
    "Celery tasks that raised, by task name.",
    ["task"],
)


def init_app(app: Flask) -> None:
    """Count and time every request the app answers."""
    app.before_request(_start_timer)
    app.after_request(_count_request)


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _count_request(response: Response) -> Response:
    started = g.get("metrics_started")
    seconds = None if started is None else time.perf_counter() - started
    count_request(request.endpoint or "unmatched", request.method, response.status_code, seconds)
    return response


def count_request(endpoint: str, method: str, status: int, seconds: float | None) -> None:
    """Count an answered request, and time it when its start is known."""
    HTTP_REQUESTS.labels(endpoint, method, str(status)).inc()
    if seconds is not None:
        HTTP_LATENCY.labels(endpoint, method).observe(seconds)


def process_metrics() -> bytes:
    """The counted figures in the text format: this process's, or every process's in the folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(PROCESS_REGISTRY)
