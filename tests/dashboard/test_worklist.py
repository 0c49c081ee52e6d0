"""The scheduler's worklist: failed and stuck work first, each with its action."""

import html
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DownloadSession
from tests.device_api.conftest import API, database_named, device_of, sessions_of
from tests.distribution.conftest import run_schedule, stores_group, task_queue, tax_data  # noqa: F401

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group", "task_queue")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def section(response) -> str:
    """The chosen tab and what it lists: the page below the open notifications."""
    return text(response).split('aria-label="Worklist sections"', 1)[1]


@pytest.fixture
def trouble(client):
    """HOUSTON's package failed three times, a run failed to build, one waiting, SEATTLE behind,
    DALLAS's device silent."""
    houston = device_of(client, "HOUSTON")
    first = sessions_of("HOUSTON")[0].id
    for n in (1, 2, 3):
        client.post(
            f"{API}/packages/{first}/status",
            json={"status": "apply_failed", "message": f"table locked {n}"},
            headers=houston,
        )
    failed = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    lost = runs.plan_run(failed.id)
    builds.claim(lost)
    builds.give_up(lost, "Build lost 3 times; retry it from the run page.")
    waiting = runs.request_run(distribution.get_schedule("1080"))
    seattle = database_named("SEATTLE")
    db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.channel_database_id == seattle.id)
        .values(status="available", requested_at=utcnow() - timedelta(hours=3))
    )
    database_named("DALLAS").activated_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    return {"session": first, "failed_run": failed.id, "waiting_run": waiting.id}


def test_a_scheduler_lands_on_the_worklist_and_others_on_the_dashboard(client, login):
    login("scheduler")
    assert client.get("/").headers["Location"].endswith("/worklist/")
    client.post("/logout")
    login("hq")
    assert client.get("/").status_code == 200


def test_failed_sessions_come_first_in_words_with_their_last_message(client, login, trouble):
    login("scheduler")

    page = text(client.get("/worklist/"))

    assert 'data-section="sessions"' in page and "Apply failed: 3 tries" in page
    assert "table locked 3" in page
    lost = db.session.scalar(
        sa.select(sa.func.count()).where(DownloadSession.status == "create_failed")
    )
    assert f"Build failed: {lost} session(s) on {lost} database(s)" in page
    assert "Apply failed: 1 session(s) on 1 database(s)" in page
    only_apply = section(client.get("/worklist/?show=sessions&cause=apply_failed"))
    assert "Apply failed: 3 tries" in only_apply and "Build lost" not in only_apply


def test_runs_databases_behind_and_silent_devices_have_their_sections(client, login, trouble):
    login("scheduler")

    listed_runs = section(client.get("/worklist/?show=runs"))
    behind = section(client.get("/worklist/?show=behind"))
    silent = section(client.get("/worklist/?show=silent"))

    assert f"Run {trouble['failed_run']}" in listed_runs
    assert f"Run {trouble['waiting_run']}" in listed_runs
    assert "SEATTLE" in behind and "HOUSTON" not in behind
    assert "DALLAS" in silent


def test_retry_selected_sessions_from_the_worklist(client, login, trouble):
    login("scheduler")
    failed_build = db.session.scalars(
        sa.select(DownloadSession.id).filter_by(
            run_id=trouble["failed_run"], status="create_failed"
        )
    ).all()

    response = client.post(
        "/distribution/sessions/selection",
        data={
            "action": "retry",
            "session": [trouble["session"], *failed_build],
            "next": "/worklist/",
        },
        follow_redirects=True,
    )

    assert f"{1 + len(failed_build)} session(s) retried" in text(response)
    db.session.expire_all()
    assert db.session.get(DownloadSession, trouble["session"]).status == "available"
    assert db.session.get(DistributionRun, trouble["failed_run"]).status == "running"
    assert "Nothing to do here" in text(client.get("/worklist/?show=sessions"))


def test_cancel_and_full_sync_of_a_selection_ask_first(client, login, trouble):
    login("scheduler")

    cancel = client.post(
        "/distribution/sessions/selection",
        data={"action": "cancel", "session": [trouble["session"]], "next": "/worklist/"},
        follow_redirects=True,
    )
    assert "Cancel 1 download session(s)?" in text(cancel)
    sync = client.post(
        "/distribution/sessions/selection",
        data={"action": "full_sync", "session": [trouble["session"]], "next": "/worklist/"},
        follow_redirects=True,
    )
    assert "Request a full data sync for 1 database(s)?" in text(sync)
    db.session.expire_all()
    assert db.session.get(DownloadSession, trouble["session"]).status == "apply_failed"

    client.post("/distribution/sessions/cancel", data={"session": [trouble["session"]]})
    db.session.expire_all()
    assert db.session.get(DownloadSession, trouble["session"]).status == "canceled"


def test_an_auditor_sees_the_worklist_without_its_actions(client, login, trouble):
    login("auditor")

    page = text(client.get("/worklist/"))

    assert "Apply failed: 3 tries" in page
    assert "Retry selected" not in page and "Full sync" not in page
    refused = client.post(
        "/distribution/sessions/selection",
        data={"action": "retry", "session": [trouble["session"]]},
    )
    assert refused.status_code == 403


def test_the_worklist_shows_the_open_notifications_of_what_failed(client, login, trouble):
    login("scheduler")

    page = text(client.get("/worklist/"))

    assert "Open notifications" in page
    assert "table locked 3" in page  # HOUSTON's package, failed past its tries
    assert "Build lost 3 times" in page
    assert "All notifications" in page


def test_without_open_notifications_the_worklist_shows_none(client, login):
    login("scheduler")
    assert "Open notifications" not in text(client.get("/worklist/"))
