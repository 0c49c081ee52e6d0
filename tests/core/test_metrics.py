"""`/metrics`: Prometheus' text format, guarded, and its figures move with runs and uploads."""

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from celery import Celery, shared_task
from prometheus_client.parser import text_string_to_metric_families

from tests.distribution.conftest import run_schedule, stores_group, tax_data  # noqa: F401
from tests.factories import RegisterFactory
from tests.transactions.conftest import device_headers, made, offline_database, send
from tests.workers import delete_queue, wait_for, worker_process

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-for-tests"


@pytest.fixture
def scrape(app, client, monkeypatch):
    """Read /metrics with the token; each sample as {(name, labels...): value}."""
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "METRICS_ALLOW", [])

    def read() -> dict:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        assert response.mimetype == "text/plain"
        samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
        return samples

    return read


def test_metrics_refuse_without_token_outside_the_allowed_networks(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_ALLOW", ["10.0.0.0/8"])
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    assert client.get("/metrics").status_code == 403
    inside = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert inside.status_code == 200
    monkeypatch.setitem(app.config, "METRICS_TOKEN", TOKEN)
    refused = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200


def test_loopback_reads_the_metrics_in_development_by_default(client):
    assert client.get("/metrics").status_code == 200


def _value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, *sorted(labels.items())), 0.0)


def test_figures_move_after_a_run_and_an_upload(app, client, scrape, stores_group):  # noqa: F811
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    before = scrape()
    run = run_schedule("1080")
    headers = device_headers(offline_database("HOUSTON-1"))
    send(client, headers, made(sequence=1), made(sequence=3))
    client.get("/healthz")
    after = scrape()

    assert _value(after, "hqportal_distribution_runs", status=run.status) == 1
    sessions = sum(
        value
        for key, value in after.items()
        if key[0] == "hqportal_download_sessions" and ("job", "1080") in key
    )
    assert sessions == run.sessions_total > 0
    built = _value(after, "hqportal_package_build_seconds_count", job="1080")
    assert built > _value(before, "hqportal_package_build_seconds_count", job="1080")
    assert _value(after, "hqportal_package_bytes_sum", job="1080") > _value(
        before, "hqportal_package_bytes_sum", job="1080"
    )
    assert _value(after, "hqportal_package_store_bytes") > 0
    assert _value(after, "hqportal_sales_received_total", status="accepted") == 2
    latency = "hqportal_sale_upload_latency_seconds"
    assert _value(after, f"{latency}_count") == _value(before, f"{latency}_count") + 2
    # Both sales were made an hour before they arrived.
    assert _value(after, f"{latency}_sum") - _value(before, f"{latency}_sum") >= 2 * 3600
    # Sequence 2 is missing: a gap anomaly is open.
    assert _value(after, "hqportal_anomalies_open", kind="sequence_gap") == 1
    devices = {k: v for k, v in after.items() if k[0] == "hqportal_devices"}
    assert _value(after, "hqportal_devices", kind="offline", state="online") >= 1
    assert sum(devices.values()) == 4  # three stores' databases and a register's
    healthz = ("endpoint", "health.healthz")
    requests = [
        v for k, v in after.items() if k[0] == "hqportal_http_requests_total" and healthz in k
    ]
    assert sum(requests) >= 1
    assert _value(after, "hqportal_broker_up") == 1
    assert any(k[0] == "hqportal_celery_queue_length" for k in after)


FAILING_TASK = "tests.core.test_metrics.fail"


@shared_task(name=FAILING_TASK)
def fail() -> None:
    """A task that raises, for the worker's failure count."""
    raise RuntimeError("failing on purpose")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_worker_serves_its_task_failures(app_ctx, database_uri, tmp_path, monkeypatch):
    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    monkeypatch.delenv("REDIS_URL", raising=False)
    port = _free_port()
    monkeypatch.setenv("WORKER_METRICS_PORT", str(port))
    queue = f"metrics-{uuid.uuid4().hex[:10]}"
    log = tmp_path / "worker.log"
    failures = f'hqportal_celery_task_failures_total{{task="{FAILING_TASK}"}}'

    def scrape() -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/metrics").text
        except httpx.TransportError:
            return ""

    with (
        worker_process(broker, queue, database_uri, tmp_path, log, f"--include={__name__}") as w,
        Celery(broker=broker, set_as_current=False) as client,
    ):
        client.send_task(FAILING_TASK, queue=queue)
        try:
            wait_for(lambda: f"{failures} 1.0" in scrape(), w, log, "the failure on the port")
        finally:
            delete_queue(client, queue)


COUNT_A_FAILURE = """
from portal.core.metrics import TASK_FAILURES
TASK_FAILURES.labels("distribution.build_packages").inc()
"""
SCRAPE = """
import sys
from portal import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "CELERY": {"broker_url": sys.argv[2]}})
sys.stdout.write(app.test_client().get("/metrics").text)
"""


def test_multiprocess_mode_adds_up_every_process(app, database_uri, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    for _ in range(2):  # two workers of the machine, each counting a failure
        subprocess.run([sys.executable, "-c", COUNT_A_FAILURE], env=env, cwd=ROOT, check=True)
    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    scraped = subprocess.run(
        [sys.executable, "-c", SCRAPE, database_uri, broker],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = 'hqportal_celery_task_failures_total{task="distribution.build_packages"} 2.0'
    assert line in scraped
