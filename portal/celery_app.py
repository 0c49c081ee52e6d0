"""Celery wired to the Flask app, following Flask's own Celery guide."""

from celery import Celery, Task
from flask import Flask, has_app_context

TASK_MODULES = ["portal.distribution.tasks", "portal.device_api.tasks", "portal.auditor.tasks"]


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
