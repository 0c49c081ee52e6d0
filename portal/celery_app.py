"""Celery wired to the Flask app, following Flask's own Celery guide."""

import os

from celery import Celery, Task, signals
from flask import Flask, has_app_context
from prometheus_client import CollectorRegistry, multiprocess, start_http_server

from portal.core.metrics import TASK_FAILURES

TASK_MODULES = [
    "portal.distribution.tasks",
    "portal.device_api.tasks",
    "portal.setup.bulk.tasks",
    "portal.auditor.tasks",
]


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app whose tasks run inside this Flask app's context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            # Eager tasks in tests and nested calls reuse the caller's context and session.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


@signals.task_failure.connect
def count_failure(sender=None, **_) -> None:
    """Count a task that raised, by name, for the metrics."""
    TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()


@signals.worker_init.connect
def lower_priority(**_) -> None:
    """Lower the worker's CPU priority by `WORKER_NICE`, when set, before its pool starts.

    The pool's processes inherit it: where web servers and workers share the cores, a run that
    keeps every worker busy then leaves the pages their share instead of slowing them.
    """
    nice = int(os.environ.get("WORKER_NICE") or 0)
    if nice:
        os.nice(nice)


@signals.worker_ready.connect
def serve_worker_metrics(**_) -> None:
    """Serve the worker's own figures on `WORKER_METRICS_PORT`, when set, for Prometheus."""
    port = os.environ.get("WORKER_METRICS_PORT")
    if not port:
        return
    registry = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    address = os.environ.get("WORKER_METRICS_ADDR", "127.0.0.1")
    if registry is None:
        start_http_server(int(port), address)
    else:
        start_http_server(int(port), address, registry=registry)
