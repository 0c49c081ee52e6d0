"""A session's life after its build, through the device API and the admin API: tries, cancel,
retry and full data sync."""

import html
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import current_app

from portal.core.extensions import db
from portal.distribution import builds, lifecycle, runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DownloadSession
from portal.distribution.signals import session_failed
from portal.masterdata.tax import TaxRate
from tests.device_api.conftest import API, database_named, device_of, sessions_of
from tests.distribution.conftest import build_run, run_schedule

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")

_rates = iter(Decimal("6.30") + Decimal("0.05") * n for n in range(100))


@pytest.fixture
def houston(client):
    """The headers of HOUSTON's activated store server, its first full package built."""
    return device_of(client, "HOUSTON")


@pytest.fixture
def scheduler(token_for):
    """A scheduler's API headers."""
    return token_for("scheduler")


@pytest.fixture
def failures():
    """The sessions `session_failed` is sent for, as (id, status, message)."""
    seen = []

    def receive(_sender, session_id, status, message, **_about):
        seen.append((session_id, status, message))

    session_failed.connect(receive)
    yield seen
    session_failed.disconnect(receive)


def incremental() -> int:
    """A new Texas rate and a run: HOUSTON's new incremental session id."""
    db.session.scalar(sa.select(TaxRate).filter_by(tax_code="TX-STATE")).rate = next(_rates)
    db.session.commit()
    run_schedule()
    return sessions_of("HOUSTON")[-1].id


def report(client, headers, session_id: int, status: str = "applied", message: str = ""):
    return client.post(
        f"{API}/packages/{session_id}/status",
        json={"status": status, "message": message},
        headers=headers,
    )


def session(session_id: int) -> DownloadSession:
    db.session.expire_all()
    return db.session.get(DownloadSession, session_id)


def listed(client, headers) -> list[int]:
    return [item["id"] for item in client.get(f"{API}/packages", headers=headers).json["items"]]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- Tries ------------------------------------------------------------------------------------


def test_a_failed_apply_is_offered_again_until_the_try_count_then_ends_failed(
    client, houston, scheduler, failures
):
    (first,) = listed(client, houston)

    for attempt in (1, 2):
        answer = report(client, houston, first, "apply_failed", f"disk full {attempt}")
        assert answer.status_code == 200 and answer.json["status"] == "available"
        assert (
            session(first).message == f"Failed to apply (try {attempt} of 3): disk full {attempt}"
        )
        assert listed(client, houston) == [first]
    assert failures == []

    answer = report(client, houston, first, "apply_failed", "disk full 3")

    assert answer.status_code == 200 and answer.json["status"] == "apply_failed"
    ended = session(first)
    assert (ended.status, ended.message, ended.failed_tries) == ("apply_failed", "disk full 3", 3)
    assert failures == [(first, "apply_failed", "disk full 3")]
    # Given up: the device is no longer offered it and cannot report on it.
    assert listed(client, houston) == []
    assert report(client, houston, first).status_code == 409
    shown = client.get(f"/api/v1/download-sessions/{first}", headers=scheduler)
    assert shown.status_code == 200
    assert shown.json["status_label"] == "Apply failed: 3 tries"
    assert [(t["status"], t["message"]) for t in shown.json["tries"]] == [
        ("apply_failed", f"disk full {n}") for n in (1, 2, 3)
    ]


def test_a_failed_download_counts_tries_too_and_ends_download_failed(client, houston, failures):
    (first,) = listed(client, houston)
    saved = current_app.config["SESSION_TRY_COUNT"]
    current_app.config["SESSION_TRY_COUNT"] = 2
    try:
        report(client, houston, first, "download_failed", "checksum mismatch")
        assert session(first).status == "available"
        report(client, houston, first, "download_failed", "checksum mismatch")
    finally:
        current_app.config["SESSION_TRY_COUNT"] = saved

    ended = session(first)
    assert (ended.status, ended.failed_tries) == ("download_failed", 2)
    assert [t.status for t in lifecycle.tries_of(ended)] == ["download_failed"] * 2
    assert failures == [(first, "download_failed", "checksum mismatch")]


def test_retry_offers_a_given_up_package_again_with_fresh_tries(client, houston, scheduler):
    (first,) = listed(client, houston)
    for _ in range(3):
        report(client, houston, first, "apply_failed", "locked")

    retried = client.post(f"/api/v1/download-sessions/{first}/retry", headers=scheduler)

    assert retried.status_code == 200, retried.text
    assert (retried.json["status"], retried.json["failed_tries"]) == ("available", 0)
    assert len(retried.json["tries"]) == 3  # the history stays
    assert listed(client, houston) == [first]
    assert report(client, houston, first).status_code == 200
    assert session(first).status == "applied"
    again = client.post(f"/api/v1/download-sessions/{first}/retry", headers=scheduler)
    assert again.status_code == 409


def test_retry_of_a_run_offers_again_what_devices_gave_up_on(client, houston, scheduler):
    (first,) = listed(client, houston)
    for _ in range(3):
        report(client, houston, first, "apply_failed", "locked")
    run_id = session(first).run_id

    retried = client.post(f"/api/v1/runs/{run_id}/retry", headers=scheduler)

    assert retried.status_code == 200, retried.text
    assert session(first).status == "available"
    assert client.post(f"/api/v1/runs/{run_id}/retry", headers=scheduler).status_code == 409


# --- Cancel -----------------------------------------------------------------------------------


def test_cancelling_a_session_cancels_what_was_built_on_it_and_the_next_package_is_full(
    client, houston, scheduler
):
    (first,) = listed(client, houston)
    assert report(client, houston, first).status_code == 200
    second, third = incremental(), incremental()
    assert session(third).kind == "incremental"

    canceled = client.post(f"/api/v1/download-sessions/{second}/cancel", headers=scheduler)

    assert canceled.status_code == 200, canceled.text
    assert canceled.json == {"canceled": [second, third]}
    assert session(second).status == "canceled"
    assert session(third).message == lifecycle.BUILT_ON_CANCELED
    assert listed(client, houston) == []
    fourth = incremental()
    assert session(fourth).kind == "full"
    dallas = db.session.scalar(
        sa.select(DownloadSession)
        .where(DownloadSession.channel_database_id == database_named("DALLAS").id)
        .order_by(DownloadSession.id.desc())
        .limit(1)
    )
    assert dallas.kind == "incremental"  # the other targets are not touched
    assert report(client, houston, fourth).status_code == 200
    refused = client.post(f"/api/v1/download-sessions/{second}/cancel", headers=scheduler)
    assert refused.status_code == 409


def test_cancelling_a_run_cancels_its_pending_sessions_and_a_waiting_run_never_starts(
    client, houston, scheduler
):
    second = incremental()
    run_id = session(second).run_id

    canceled = client.post(f"/api/v1/runs/{run_id}/cancel", headers=scheduler)

    assert canceled.status_code == 200, canceled.text
    assert "Canceled by" in canceled.json["message"]
    assert (canceled.json["status"], canceled.json["status_label"]) == ("canceled", "Canceled")
    assert {p["status"] for p in canceled.json["packages"]} == {"canceled"}
    waiting = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    response = client.post(f"/api/v1/runs/{waiting.id}/cancel", headers=scheduler)
    assert response.status_code == 200 and response.json["status"] == "canceled"
    assert response.json["finished_at"] is not None
    assert runs.plan_run(waiting.id) == []
    assert client.post(f"/api/v1/runs/{waiting.id}/cancel", headers=scheduler).status_code == 409


def test_a_run_canceled_as_a_whole_shows_canceled_though_a_package_was_applied(
    client, houston, scheduler
):
    (first,) = listed(client, houston)
    assert report(client, houston, first).status_code == 200
    second = incremental()
    run_id = session(second).run_id
    assert report(client, houston, second).status_code == 200

    canceled = client.post(f"/api/v1/runs/{run_id}/cancel", headers=scheduler)

    assert canceled.json["status"] == "canceled"
    statuses = {p["channel_database"]: p["status"] for p in canceled.json["packages"]}
    assert statuses[database_named("HOUSTON").id] == "applied"
    assert statuses[database_named("DALLAS").id] == "canceled"


def test_a_run_canceled_while_building_stays_canceled_when_its_builds_finish(scheduler, client):
    run = runs.request_run(distribution.get_schedule("1080"), True)
    db.session.commit()
    planned = runs.plan_run(run.id)
    db.session.commit()
    assert planned

    canceled = client.post(f"/api/v1/runs/{run.id}/cancel", headers=scheduler)
    for session_id in planned:  # the builds already queued, taken by a worker afterwards
        builds.build_session(session_id)
        db.session.commit()

    assert canceled.json["status"] == "canceled"
    assert {session(i).status for i in planned} == {"canceled"}
    assert client.get(f"/api/v1/runs/{run.id}", headers=scheduler).json["status"] == "canceled"


def test_a_run_whose_sessions_all_end_canceled_shows_canceled_on_its_pages_and_the_api(
    client, houston, scheduler, login
):
    run_id = session(incremental()).run_id
    *first, last = db.session.scalars(
        sa.select(DownloadSession.id).filter_by(run_id=run_id).order_by(DownloadSession.id)
    ).all()
    assert first, "the run reaches more than one database"

    for session_id in first:
        client.post(f"/api/v1/download-sessions/{session_id}/cancel", headers=scheduler)
    assert client.get(f"/api/v1/runs/{run_id}", headers=scheduler).json["status"] == "done"
    client.post(f"/api/v1/download-sessions/{last}/cancel", headers=scheduler)

    shown = client.get(f"/api/v1/runs/{run_id}", headers=scheduler).json
    assert (shown["status"], shown["status_label"]) == ("canceled", "Canceled")
    listed_runs = client.get("/api/v1/runs?status=canceled", headers=scheduler).json["items"]
    assert [r["id"] for r in listed_runs] == [run_id]
    login("scheduler")
    page = text(client.get(f"/distribution/runs/{run_id}"))
    assert 'data-run-status="canceled">Canceled</span>' in page
    progress = client.get(f"/distribution/runs/{run_id}/progress").json
    assert (progress["status_label"], progress["finished"]) == ("Canceled", True)
    schedule = text(client.get("/distribution/schedules/1080"))
    assert 'data-run-status="canceled">Canceled</span>' in schedule

    # Retried, the session is built again and the run is done again.
    client.post(f"/api/v1/download-sessions/{last}/retry", headers=scheduler)
    assert client.get(f"/api/v1/runs/{run_id}", headers=scheduler).json["status"] == "running"
    builds.build_session(last)
    db.session.commit()
    assert client.get(f"/api/v1/runs/{run_id}", headers=scheduler).json["status"] == "done"


def test_cancelling_a_databases_pending_sessions_for_a_replaced_register(
    client, houston, scheduler
):
    (first,) = listed(client, houston)
    second = incremental()
    database = database_named("HOUSTON")

    canceled = client.post(
        f"/api/v1/channel-databases/{database.id}/cancel-sessions", headers=scheduler
    )

    assert canceled.status_code == 200, canceled.text
    assert canceled.json == {"canceled": [first, second]}
    assert listed(client, houston) == []
    assert session(incremental()).kind == "full"
    again = client.post(
        f"/api/v1/channel-databases/{database.id}/cancel-sessions", headers=scheduler
    )
    assert again.status_code == 200  # the new full package was pending


# --- Full data sync ---------------------------------------------------------------------------


def test_full_data_sync_for_a_selection_hits_the_databases_a_schedule_reaches(
    client, houston, token_for
):
    hq = token_for("hq")
    ids = [database_named(name).id for name in ("HOUSTON", "DALLAS")]

    response = client.post(
        "/api/v1/channel-databases/full-sync",
        json={"channel_databases": [*ids, 999999]},
        headers=hq,
    )

    assert response.status_code == 202, response.text
    assert response.json["databases"] == 2
    assert sorted(run["channel_database"] for run in response.json["runs"]) == sorted(ids)
    for run in response.json["runs"]:
        built = build_run(run["id"])
        assert {
            s.kind
            for s in db.session.scalars(sa.select(DownloadSession).filter_by(run_id=built.id))
        } == {"full"}
    nothing = client.post(
        "/api/v1/channel-databases/full-sync", json={"channel_databases": [999999]}, headers=hq
    )
    assert nothing.status_code == 409
    one = client.post(f"/api/v1/channel-databases/{ids[0]}/full-sync", headers=hq)
    assert one.status_code == 202 and one.json["databases"] == 1


def test_auditors_may_not_cancel_retry_or_sync(client, houston, token_for):
    auditor = token_for("auditor")
    (first,) = listed(client, houston)
    database = database_named("HOUSTON").id
    for path in (
        f"/api/v1/download-sessions/{first}/cancel",
        f"/api/v1/download-sessions/{first}/retry",
        f"/api/v1/channel-databases/{database}/full-sync",
        f"/api/v1/channel-databases/{database}/cancel-sessions",
    ):
        assert client.post(path, headers=auditor).status_code == 403, path
    assert session(first).status == "available"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRun)) == 1


# --- Pages ------------------------------------------------------------------------------------


def test_cancel_and_full_sync_pages_confirm_first(client, houston, login):
    (first,) = listed(client, houston)
    database = database_named("HOUSTON").id
    login("scheduler")

    asked = client.get(f"/distribution/sessions/{first}/cancel")
    assert asked.status_code == 200 and "Cancel download session" in text(asked)
    assert session(first).status == "available"
    done = client.post(f"/distribution/sessions/{first}/cancel", follow_redirects=True)
    assert f"Session {first} canceled." in text(done)
    assert session(first).status == "canceled"

    dallas = database_named("DALLAS").id
    confirm = client.get(f"/distribution/full-sync?database={database}&database={dallas}")
    assert "Request a full data sync for 2 database(s)?" in text(confirm)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRun)) == 1
    synced = client.post(
        "/distribution/full-sync",
        data={"database": [database, dallas], "next": "/worklist/"},
        follow_redirects=True,
    )
    assert "Full data sync requested for 2 database(s)" in text(synced)
    waiting = db.session.scalars(sa.select(DistributionRun).filter_by(status="waiting")).all()
    assert sorted(run.channel_database_id for run in waiting) == sorted([database, dallas])


def test_the_database_page_offers_full_sync_and_cancel(client, houston, login):
    database = database_named("HOUSTON").id
    login("scheduler")

    page = text(client.get(f"/channel-databases/{database}"))

    assert "Request full data sync" in page and "Cancel pending sessions" in page
    confirm = client.get(f"/distribution/channel-databases/cancel-sessions?database={database}")
    assert "1 download session(s) not yet applied will be canceled" in text(confirm)
    client.post("/distribution/channel-databases/cancel-sessions", data={"database": [database]})
    assert [s.status for s in sessions_of("HOUSTON")] == ["canceled"]


def test_hq_may_sync_but_not_cancel_on_the_pages(client, houston, login):
    (first,) = listed(client, houston)
    login("hq")

    assert client.get(f"/distribution/sessions/{first}/cancel").status_code == 403
    assert client.post(f"/distribution/sessions/{first}/cancel").status_code == 403
    database = database_named("HOUSTON").id
    assert client.get(f"/distribution/full-sync?database={database}").status_code == 200
    assert session(first).status == "available"


def test_a_full_package_ends_what_a_cancel_reaches_unless_it_is_canceled_too(
    client, houston, scheduler
):
    (first,) = listed(client, houston)
    assert report(client, houston, first).status_code == 200
    before_full = incremental()
    run_schedule(full=True)
    full = sessions_of("HOUSTON")[-1].id
    after_full = incremental()
    assert (session(full).kind, session(after_full).kind) == ("full", "incremental")

    kept = client.post(f"/api/v1/download-sessions/{before_full}/cancel", headers=scheduler)
    assert kept.json == {"canceled": [before_full]}

    both = client.post(f"/api/v1/download-sessions/{full}/cancel", headers=scheduler)
    assert both.json == {"canceled": [full, after_full]}
    assert listed(client, houston) == []


def test_a_build_given_up_sends_session_failed_too(failures):
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    planned = runs.plan_run(run.id)

    builds.give_up(planned, "Build lost 3 times; retry it from the run page.")

    assert sorted(failures) == [
        (session_id, "create_failed", "Build lost 3 times; retry it from the run page.")
        for session_id in planned
    ]
