"""The upload job P-0001: a run asks its targets to upload now; heartbeats say when they have."""

import html
import os
import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from celery import Celery

from portal.core.extensions import db
from portal.distribution import builds, upload_requests
from portal.distribution.models import (
    RUN_CANCELED,
    RUN_DONE,
    RUN_FAILED,
    RUN_RUNNING,
    UPLOAD_CANCELED,
    UPLOAD_DONE,
    UPLOAD_FAILED,
    UPLOAD_REQUESTED,
    DistributionRun,
    DownloadSession,
    UploadRequest,
)
from portal.setup.models import OfflineProfile, Store
from tests.device_api.conftest import API, database_named, device_of
from tests.distribution.conftest import build_run
from tests.workers import delete_queue, wait_for, worker_process

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")

SCHEDULES = "/api/v1/distribution-schedules"
STORES = ("DALLAS", "HOUSTON", "SEATTLE")


@pytest.fixture
def scheduler(token_for):
    """Bearer headers of a scheduler."""
    return token_for("scheduler")


@pytest.fixture
def devices(client):
    """Headers of the three stores' activated devices, by store number."""
    return {number: device_of(client, number) for number in STORES}


def upload_run(client, scheduler) -> int:
    """Create schedule EOD (job P-0001 for the stores) through the API, run it and plan it."""
    created = client.post(
        SCHEDULES,
        json={"code": "EOD", "name": "End of day", "jobs": ["P-0001"], "groups": ["Stores"]},
        headers=scheduler,
    )
    assert created.status_code == 201, created.text
    assert created.json["jobs"] == ["P-0001"]
    accepted = client.post(f"{SCHEDULES}/EOD/runs", json={}, headers=scheduler)
    assert accepted.status_code == 202, accepted.text
    build_run(accepted.json["id"])
    return accepted.json["id"]


def beat(client, headers, pending: int) -> bool:
    """Send a heartbeat with `pending` sales waiting; whether HQ asks for an upload."""
    body = {"mode": "online", "pending_uploads": pending}
    response = client.post(f"{API}/status", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json["upload_requested"]


def request_of(run_id: int, name: str) -> UploadRequest:
    db.session.expire_all()
    database = database_named(name)
    return db.session.scalar(
        sa.select(UploadRequest).filter_by(run_id=run_id, channel_database_id=database.id)
    )


def run_of(run_id: int) -> DistributionRun:
    db.session.expire_all()
    return db.session.get(DistributionRun, run_id)


def test_an_upload_run_asks_every_target_database_and_builds_no_package(client, scheduler, devices):
    run_id = upload_run(client, scheduler)

    run = run_of(run_id)
    assert run.status == RUN_RUNNING
    assert (run.sessions_total, run.sessions_done) == (3, 0)
    requests = db.session.scalars(sa.select(UploadRequest).filter_by(run_id=run_id)).all()
    assert sorted(r.channel_database.name for r in requests) == list(STORES)
    assert {r.status for r in requests} == {UPLOAD_REQUESTED}
    assert not db.session.scalar(sa.select(sa.func.count()).where(DownloadSession.run_id == run_id))
    shown = client.get(f"/api/v1/runs/{run_id}", headers=scheduler)
    assert shown.json["progress"]["sessions_total"] == 3
    # The reaper leaves a run alone while it waits for uploads.
    assert run_id not in builds.close_forgotten_runs()


def test_a_database_is_done_once_a_heartbeat_after_the_request_reports_nothing_waiting(
    client, scheduler, devices
):
    assert beat(client, devices["HOUSTON"], 4) is False  # no run yet: nothing asked
    run_id = upload_run(client, scheduler)

    assert beat(client, devices["HOUSTON"], 4) is True
    asked = request_of(run_id, "HOUSTON")
    assert (asked.status, asked.tries, asked.pending_reported) == (UPLOAD_REQUESTED, 1, 4)

    assert beat(client, devices["HOUSTON"], 0) is False
    done = request_of(run_id, "HOUSTON")
    assert done.status == UPLOAD_DONE
    assert done.finished_at is not None
    assert run_of(run_id).sessions_done == 1

    assert beat(client, devices["DALLAS"], 0) is False
    assert beat(client, devices["SEATTLE"], 0) is False
    run = run_of(run_id)
    assert (run.status, run.sessions_done, run.sessions_failed) == (RUN_DONE, 3, 0)
    assert beat(client, devices["SEATTLE"], 3) is False  # the run is over: nothing asked


def test_a_database_still_reporting_sales_waiting_after_the_try_count_fails(
    client, scheduler, devices, app
):
    run_id = upload_run(client, scheduler)
    tries = app.config["SESSION_TRY_COUNT"]
    assert tries == 3

    for _ in range(tries):
        assert beat(client, devices["DALLAS"], 2) is True
    assert beat(client, devices["DALLAS"], 2) is False

    failed = request_of(run_id, "DALLAS")
    assert failed.status == UPLOAD_FAILED
    assert failed.message == "Still 2 sale(s) waiting after 3 request(s)."
    assert beat(client, devices["HOUSTON"], 0) is False
    assert beat(client, devices["SEATTLE"], 0) is False
    run = run_of(run_id)
    assert (run.status, run.sessions_done, run.sessions_failed) == (RUN_FAILED, 3, 1)
    assert run.message == "1 database(s) did not upload after being asked."


def test_the_run_page_lists_the_stores_not_uploaded_yet(client, scheduler, devices, login):
    run_id = upload_run(client, scheduler)
    beat(client, devices["HOUSTON"], 0)
    for _ in range(4):
        beat(client, devices["DALLAS"], 1)

    login("scheduler")
    page = html.unescape(client.get(f"/distribution/runs/{run_id}").get_data(as_text=True))

    section = page[page.index("data-uploads") : page.index("sessions-heading")]
    words = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert "1 done, 1 waiting, 1 failed" in words
    table = words[words.index("Stores not uploaded yet (2)") :]
    assert "HOUSTON" not in table
    # Store, name, waiting, failed; by store number.
    assert re.search(r"DALLAS [\w ]+ 0 1 SEATTLE [\w ]+ 1 0", table), table


def test_cancelling_an_upload_run_ends_its_open_requests_and_asks_no_more(
    client, scheduler, devices, login
):
    run_id = upload_run(client, scheduler)
    assert beat(client, devices["HOUSTON"], 0) is False  # done before the cancel

    canceled = client.post(f"/api/v1/runs/{run_id}/cancel", headers=scheduler)

    assert canceled.status_code == 200, canceled.text
    assert canceled.json["status"] == RUN_CANCELED
    statuses = {name: request_of(run_id, name).status for name in STORES}
    assert statuses == {
        "DALLAS": UPLOAD_CANCELED,
        "HOUSTON": UPLOAD_DONE,
        "SEATTLE": UPLOAD_CANCELED,
    }
    assert request_of(run_id, "DALLAS").message.startswith(f"Canceled with run {run_id} by ")
    assert beat(client, devices["DALLAS"], 5) is False  # nobody waits for that upload now
    run = run_of(run_id)
    assert (run.status, run.sessions_done, run.sessions_failed) == (RUN_CANCELED, 3, 0)
    assert "2 upload request(s) canceled" in run.message
    again = client.post(f"/api/v1/runs/{run_id}/cancel", headers=scheduler)
    assert again.status_code == 409
    login("scheduler")
    page = html.unescape(client.get(f"/distribution/runs/{run_id}").get_data(as_text=True))
    assert "2 canceled" in " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_cancelling_a_replaced_registers_database_ends_its_upload_request(
    client, scheduler, devices
):
    run_id = upload_run(client, scheduler)
    dallas = database_named("DALLAS").id

    canceled = client.post(f"/api/v1/channel-databases/{dallas}/cancel-sessions", headers=scheduler)

    assert canceled.status_code == 200, canceled.text
    assert request_of(run_id, "DALLAS").status == UPLOAD_CANCELED
    assert request_of(run_id, "HOUSTON").status == UPLOAD_REQUESTED
    assert run_of(run_id).sessions_done == 1
    nothing_left = client.post(
        f"/api/v1/channel-databases/{dallas}/cancel-sessions", headers=scheduler
    )
    assert nothing_left.status_code == 409


def silent_for(run_id: int, minutes: float) -> None:
    """Move the run's open requests, and the heartbeats they last heard, `minutes` back."""
    for request in db.session.scalars(
        sa.select(UploadRequest).filter_by(run_id=run_id, status=UPLOAD_REQUESTED)
    ):
        request.requested_at -= timedelta(minutes=minutes)
        if request.last_heard_at is not None:
            request.last_heard_at -= timedelta(minutes=minutes)
    db.session.commit()


def test_a_silent_device_fails_after_the_try_count_of_its_health_check_intervals(
    client, scheduler, devices, app
):
    run_id = upload_run(client, scheduler)
    assert beat(client, devices["HOUSTON"], 0) is False  # done
    assert beat(client, devices["DALLAS"], 2) is True  # asked once, then silent
    heard = request_of(run_id, "DALLAS").last_heard_at
    requested = request_of(run_id, "SEATTLE").requested_at  # never answers
    # The stores' offline profiles check every 5 minutes; the try count is 3.
    assert app.config["SESSION_TRY_COUNT"] == 3

    silent_for(run_id, 14)
    assert upload_requests.fail_silent() == 0
    db.session.commit()
    assert request_of(run_id, "SEATTLE").status == UPLOAD_REQUESTED

    silent_for(run_id, 2)
    assert upload_requests.fail_silent() == 2
    db.session.commit()
    dallas, seattle = request_of(run_id, "DALLAS"), request_of(run_id, "SEATTLE")
    assert (dallas.status, seattle.status) == (UPLOAD_FAILED, UPLOAD_FAILED)
    since = heard - timedelta(minutes=16)
    assert dallas.message == (
        f"No heartbeat since {since:%Y-%m-%d %H:%M} UTC: 3 health-check interval(s) of 5 min "
        "passed."
    )
    assert seattle.message.startswith(
        f"No heartbeat since {requested - timedelta(minutes=16):%Y-%m-%d %H:%M} UTC"
    )
    run = run_of(run_id)
    assert (run.status, run.sessions_done, run.sessions_failed) == (RUN_FAILED, 3, 2)
    assert beat(client, devices["DALLAS"], 0) is False  # too late: the run is over


def test_the_silence_allowed_follows_the_store_offline_profile(client, scheduler, devices):
    run_id = upload_run(client, scheduler)
    dallas = db.session.scalar(sa.select(Store).filter_by(store_number="DALLAS"))
    db.session.get(OfflineProfile, dallas.offline_profile_id).health_check_interval_min = 1
    db.session.commit()

    silent_for(run_id, 4)
    assert upload_requests.fail_silent() == 1
    db.session.commit()
    statuses = {name: request_of(run_id, name).status for name in STORES}
    assert statuses == {
        "DALLAS": UPLOAD_FAILED,
        "HOUSTON": UPLOAD_REQUESTED,
        "SEATTLE": UPLOAD_REQUESTED,
    }
    assert "3 health-check interval(s) of 1 min" in request_of(run_id, "DALLAS").message


@pytest.fixture
def broker(tmp_path):
    """Redis when the run has it, else the embedded broker; one queue per test."""
    url = os.environ.get("REDIS_URL") or f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    queue = f"test-{uuid.uuid4().hex[:10]}"
    with Celery(broker=url, set_as_current=False) as celery:
        yield url, queue, celery
        delete_queue(celery, queue)


def test_beat_tick_in_a_worker_ends_the_run_of_devices_gone_silent(
    client, scheduler, devices, broker, database_uri, tmp_path
):
    url, queue, celery = broker
    run_id = upload_run(client, scheduler)
    assert beat(client, devices["HOUSTON"], 0) is False
    silent_for(run_id, 16)
    log = tmp_path / "worker.log"

    with worker_process(url, queue, database_uri, tmp_path, log) as worker:
        celery.send_task("distribution.tick", queue=queue)
        wait_for(lambda: run_of(run_id).status != RUN_RUNNING, worker, log, "the run to end")

    run = run_of(run_id)
    assert (run.status, run.sessions_done, run.sessions_failed) == (RUN_FAILED, 3, 2)
    failed = {name: request_of(run_id, name) for name in ("DALLAS", "SEATTLE")}
    assert all(r.message.startswith("No heartbeat since ") for r in failed.values())
