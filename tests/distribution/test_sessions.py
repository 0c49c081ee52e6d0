"""Download sessions: finding them, retrying a failed build, and forcing one full package."""

import html

import pytest
import sqlalchemy as sa
from flask import current_app

from portal.audit.models import AuditEntry
from portal.core.errors import Conflict, ValidationFailed
from portal.core.extensions import db
from portal.distribution import builds, runs, sessions
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DownloadSession
from portal.setup.models import Store
from tests.distribution.conftest import build_run as build
from tests.distribution.conftest import run_schedule, sessions_by_database
from tests.factories import GroupFactory, StoreFactory

# The isolated broker of the schedule page tests, and their stand-in for a worker.

pytestmark = pytest.mark.usefixtures("stores_group", "task_queue")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def database_id(store_number: str) -> int:
    store = db.session.scalar(sa.select(Store).filter_by(store_number=store_number))
    return store.channel_database.id


def fresh(model, key):
    """The row as committed, not as this session last saw it."""
    db.session.rollback()
    return db.session.get(model, key)


@pytest.fixture
def failed_run(app, tmp_path, monkeypatch):
    """A run whose every package failed to build: the package store was a file, not a folder."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with monkeypatch.context() as patch:
        patch.setitem(current_app.config, "PACKAGE_STORE", str(blocker))
        run = run_schedule()
    return run


def test_sessions_are_found_by_run_store_database_status_and_job():
    first = run_schedule()
    StoreFactory(store_number="AUSTIN", tax_group="TX", channel_data_group="Stores")
    second = run_schedule()

    def found(**filters) -> set[tuple[int, str]]:
        return {
            (s.run_id, s.channel_database.name)
            for s in db.session.scalars(sessions.sessions_query(**filters))
        }

    assert found(run_id=first.id) == {(first.id, n) for n in ("HOUSTON", "DALLAS", "SEATTLE")}
    assert found(store_number="houston") == {(first.id, "HOUSTON")}
    assert found(channel_database_id=database_id("AUSTIN")) == {(second.id, "AUSTIN")}
    # Nothing changed for the three old stores (counted on the run, not kept as sessions); the
    # new one gets its first, full package.
    assert found(run_id=second.id) == {(second.id, "AUSTIN")}
    assert second.sessions_no_data == 3
    assert found(status="no_data") == set()
    assert found(job_number="1000") == set()
    ids = list(db.session.scalars(sessions.sessions_query().with_only_columns(DownloadSession.id)))
    assert ids == sorted(ids, reverse=True)  # newest first


def test_retry_of_a_failed_build_rebuilds_it_and_finishes_the_run(
    client, login, failed_run, task_queue
):
    houston = sessions_by_database(failed_run)["HOUSTON"]
    assert failed_run.status == "failed" and failed_run.sessions_failed == 3
    assert houston.status == "create_failed" and "Not a directory" in houston.message
    email = login("scheduler")

    response = client.post(f"/distribution/sessions/{houston.id}/retry")

    assert response.status_code == 302
    assert response.location.endswith(f"/distribution/runs/{failed_run.id}")
    session = fresh(DownloadSession, houston.id)
    assert (session.status, session.message) == ("requested", f"Retried by {email}")
    run = db.session.get(DistributionRun, failed_run.id)
    assert (run.status, run.sessions_done, run.sessions_failed) == ("running", 2, 2)
    assert run.finished_at is None
    assert task_queue.tasks()[-1] == ("distribution.build_packages", [[houston.id]])
    entry = db.session.scalar(
        sa.select(AuditEntry).filter_by(entity_type="download_session", entity_key=str(session.id))
    )
    assert (entry.action, entry.actor, entry.before, entry.after) == (
        "retry",
        email,
        {"status": "create_failed"},
        {"status": "requested"},
    )

    assert builds.build_session(houston.id) == "available"  # what the queued task does
    db.session.commit()

    session = fresh(DownloadSession, houston.id)
    assert session.kind == "full" and session.package is not None
    run = db.session.get(DistributionRun, failed_run.id)
    assert (run.status, run.sessions_done, run.sessions_failed) == ("failed", 3, 2)
    for other in ("DALLAS", "SEATTLE"):
        sessions.retry_session(sessions_by_database(run)[other])
        db.session.commit()
        builds.build_session(sessions_by_database(run)[other].id)
        db.session.commit()
    run = fresh(DistributionRun, failed_run.id)
    assert (run.status, run.sessions_done, run.sessions_failed, run.message) == ("done", 3, 0, "")


def test_only_failed_or_canceled_sessions_can_be_retried(client, login):
    run = run_schedule()
    houston = sessions_by_database(run)["HOUSTON"]
    login("scheduler")

    response = client.post(f"/distribution/sessions/{houston.id}/retry", follow_redirects=True)

    assert "only a failed or canceled session" in text(response)
    assert fresh(DownloadSession, houston.id).status == "available"
    assert fresh(DistributionRun, run.id).status == "done"
    with pytest.raises(Conflict):
        sessions.retry_session(fresh(DownloadSession, houston.id))


def test_auditor_may_not_retry(client, login, failed_run):
    houston = sessions_by_database(failed_run)["HOUSTON"]
    login("auditor")

    response = client.post(f"/distribution/sessions/{houston.id}/retry")

    assert response.status_code == 403
    assert fresh(DownloadSession, houston.id).status == "create_failed"
    page = text(client.get(f"/distribution/runs/{failed_run.id}"))
    assert "create_failed" in page and ">Retry<" not in page


def test_run_page_lists_its_sessions_with_filters_and_retry_buttons(client, login, failed_run):
    login("scheduler")

    page = text(client.get(f"/distribution/runs/{failed_run.id}"))
    houston = text(client.get(f"/distribution/runs/{failed_run.id}?store=houston"))
    available = text(client.get(f"/distribution/runs/{failed_run.id}?status=available"))

    assert page.count(">Retry</button>") == 3
    assert "3 package(s) could not be built." in page
    assert "HOUSTON" in houston and "DALLAS" not in houston and "SEATTLE" not in houston
    assert "No download sessions match." in available


def test_sessions_page_filters_all_runs_and_is_linked_from_store_and_database(client, login):
    run_schedule()
    run_schedule(full=True)
    dallas = database_id("DALLAS")
    login("auditor")

    every = text(client.get("/distribution/sessions/"))
    by_store = text(client.get("/distribution/sessions/?store=HOUSTON"))
    by_database = text(client.get(f"/distribution/sessions/?database={dallas}"))
    by_job = text(client.get("/distribution/sessions/?job=1000"))
    store_page = text(client.get("/stores/HOUSTON"))
    database_page = text(client.get(f"/channel-databases/{dallas}"))

    assert every.count("<tr>") - 1 == 6
    assert by_store.count("<tr>") - 1 == 2 and "DALLAS" not in by_store.split("<tbody>")[1]
    assert by_database.count(">DALLAS</a>") == 3  # heading and two sessions
    assert "No download sessions match." in by_job
    assert 'href="/distribution/sessions/?store=HOUSTON"' in store_page
    assert f'href="/distribution/sessions/?database={dallas}"' in database_page
    assert "Force full package" not in database_page  # auditors do not run distributions


def test_full_package_for_one_database_gives_it_exactly_one_full_session(client, login, task_queue):
    run_schedule()
    houston = database_id("HOUSTON")
    email = login("scheduler")
    assert "Force full package" in text(client.get(f"/channel-databases/{houston}"))

    form = text(client.get(f"/distribution/channel-databases/{houston}/full-package"))
    assert '<option value="1080">1080 Sales tax</option>' in form
    response = client.post(
        f"/distribution/channel-databases/{houston}/full-package", data={"schedule": "1080"}
    )

    run = db.session.scalars(runs.runs_query(schedule_code="1080")).first()
    assert response.location.endswith(f"/distribution/runs/{run.id}")
    assert (run.channel_database_id, run.full_sync, run.requested_by) == (houston, True, email)
    assert ("distribution.start_run", [run.id]) in task_queue.tasks()
    run = build(run.id)
    built = list(db.session.scalars(sessions.sessions_query(run_id=run.id)))
    assert [(s.channel_database_id, s.kind, s.status) for s in built] == [
        (houston, "full", "available")
    ]
    assert (run.status, run.sessions_total) == ("done", 1)
    entry = db.session.scalar(
        sa.select(AuditEntry)
        .filter_by(entity_type="distribution_schedule", action="run")
        .order_by(AuditEntry.id.desc())
    )
    assert entry.after == {"run": run.id, "full_sync": True, "channel_database": "HOUSTON"}


def test_full_package_is_refused_for_a_database_the_schedule_does_not_reach(client, login):
    GroupFactory(name="Parking")
    StoreFactory(store_number="NEW", channel_data_group="Parking")
    parked = database_id("NEW")
    login("scheduler")

    page = text(client.get(f"/distribution/channel-databases/{parked}/full-package"))
    response = client.post(
        f"/distribution/channel-databases/{parked}/full-package", data={"schedule": "1080"}
    )

    assert "No enabled distribution schedule sends this database anything" in page
    assert response.status_code == 200
    assert "sends nothing to channel database 'NEW'" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRun)) == 0
    with pytest.raises(ValidationFailed):
        runs.request_run(distribution.get_schedule("1080"), channel_database=parked)
