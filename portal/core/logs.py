"""Request ids and, with `LOG_FORMAT=json`, one JSON object per log line.

Every request gets an id: the caller's `X-Request-ID` when it is a sane token (a load balancer's
or a device's), else a new one. It is answered in the same header, shown on error pages and
written in each log line of the request with who was acting (a user's email or a device); a
worker's lines carry the task id instead.
"""

import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from celery import current_task, signals
from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# Long enough for a UUID or a trace id, short and plain enough to be safe in a log or a header.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")
request_log = logging.getLogger("portal.request")


def init_app(app: Flask) -> None:
    """Give every request an id, answer it, and log each request in JSON when asked to."""
    app.before_request(_take_request_id)
    app.after_request(_answer_request_id)
    if app.config.get("LOG_FORMAT") == "json":
        use_json_logs(app.config.get("LOG_LEVEL", "INFO"))


def request_id() -> str | None:
    """The id of the request being answered, if any."""
    return g.get("request_id") if has_request_context() else None


def _take_request_id() -> None:
    g.request_id = take_request_id(request.headers.get(REQUEST_ID_HEADER, ""))
    g.request_started = time.perf_counter()


def take_request_id(incoming: str) -> str:
    """The id a request is known by: the caller's, when it is a sane one, or a new one."""
    return incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def _answer_request_id(response: Response) -> Response:
    if "request_id" in g:
        response.headers[REQUEST_ID_HEADER] = g.request_id
        log_request(request.method, request.path, response.status_code, g.request_started)
    return response


def log_request(
    method: str, path: str, status: int, started: float, request_id: str | None = None
) -> None:
    """The line every answered request leaves in the log (`request_id` outside a request)."""
    extra = {"status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    if request_id is not None:
        extra["request_id"] = request_id
    request_log.info("%s %s %s", method, path, status, extra=extra)


class ContextFilter(logging.Filter):
    """Adds the request id, the user or device acting, and the task id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops one."""
        # A line logged outside a request context may name its request itself.
        record.request_id = getattr(record, "request_id", None) or request_id()
        record.user = record.device = None
        if has_request_context():
            # Who the guards named for the audit trail: reading it costs no database query.
            actor, source = g.get("audit_actor", (None, None))
            if source == "device":
                record.device = actor.removeprefix("device:")
            elif actor:
                record.user = actor
        task = current_task
        record.task_id = task.request.id if task and task.request else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the context's fields."""

    CONTEXT = ("request_id", "user", "device", "task_id", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.CONTEXT:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def json_handler(stream=None) -> logging.Handler:
    """A handler writing JSON lines, annotated with the request or task context."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    return handler


def use_json_logs(level: str = "INFO") -> None:
    """Make the root logger write JSON lines (once per process, whatever the apps built)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(json_handler())
    root.setLevel(level)


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _celery_json_logs(logger: logging.Logger, **_) -> None:
    """A worker sets up its own loggers on start: write theirs in JSON too when asked."""
    if os.environ.get("LOG_FORMAT") != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
        handler.addFilter(ContextFilter())
