"""Request ids in headers, error pages and JSON log lines; a real worker logs its task id."""

import io
import json
import logging
import uuid

import pytest
from celery import Celery, shared_task

from portal.core.logs import json_handler
from tests.transactions.conftest import device_headers, offline_database, stores  # noqa: F401
from tests.workers import delete_queue, wait_for, worker_process

PROBE_TASK = "tests.core.test_logs.say_hello"


@shared_task(name=PROBE_TASK)
def say_hello(word: str) -> None:
    """A task that logs, for the worker test."""
    logging.getLogger("tests.probe").warning("hello %s", word)


@pytest.fixture
def json_lines():
    """Every log record of the test, as the JSON objects `LOG_FORMAT=json` writes."""
    stream = io.StringIO()
    handler = json_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_answer_carries_a_request_id_and_keeps_a_sane_incoming_one(client):
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/healthz").headers["X-Request-ID"]
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.42"
    for insane in ("", "has space", "x" * 129, "naïve", "a\tb"):
        answered = client.get("/healthz", headers={"X-Request-ID": insane})
        assert answered.headers["X-Request-ID"] not in ("", insane)


def test_error_pages_show_the_request_id(client, login):
    login("hq")
    response = client.get("/stores/NOWHERE", headers={"X-Request-ID": "trace-123456"})
    assert response.status_code == 404
    assert "trace-123456" in response.text


def test_json_lines_name_the_request_and_the_user(client, login, json_lines):
    email = login("hq")
    client.get("/stores/", headers={"X-Request-ID": "req-abc-1"})
    line = next(e for e in json_lines() if e.get("request_id") == "req-abc-1")
    assert line["logger"] == "portal.request"
    assert line["message"] == "GET /stores/ 200"
    assert line["user"] == email and "device" not in line
    assert line["status"] == 200 and line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_json_lines_name_the_device(client, stores, json_lines):  # noqa: F811
    headers = device_headers(offline_database("HOUSTON-1"))
    client.get("/api/v1/device/config", headers=headers | {"X-Request-ID": "dev-req-1"})
    line = next(e for e in json_lines() if e.get("request_id") == "dev-req-1")
    assert line["device"].startswith("HOUSTON-1") and "user" not in line


def test_a_worker_writes_json_lines_with_the_task_id(app_ctx, database_uri, tmp_path, monkeypatch):
    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("LOG_FORMAT", "json")
    queue = f"logs-{uuid.uuid4().hex[:10]}"
    log = tmp_path / "worker.log"
    with (
        worker_process(broker, queue, database_uri, tmp_path, log, f"--include={__name__}") as w,
        Celery(broker=broker, set_as_current=False) as client,
    ):
        sent = client.send_task(PROBE_TASK, args=["there"], queue=queue)
        try:
            wait_for(lambda: "hello there" in log.read_text(), w, log, "the task's log line")
        finally:
            delete_queue(client, queue)
    lines = [json.loads(text) for text in log.read_text().splitlines() if text.startswith("{")]
    hello = next(line for line in lines if line["message"] == "hello there")
    assert hello["task_id"] == sent.id and hello["level"] == "WARNING"
