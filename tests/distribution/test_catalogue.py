"""The scheduler job catalogue (editable) and the scheduler's parameters, stored at HQ."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import jobs, parameters, runs, tasks
from portal.distribution.models import DownloadSession, SchedulerJob
from tests.distribution.conftest import run_schedule, sessions_by_database

pytestmark = pytest.mark.usefixtures("stores_group")

JOBS = "/api/v1/scheduler-jobs"
PARAMETERS = "/api/v1/scheduler-parameters"


def age_requested_sessions(run_id: int, minutes: int) -> None:
    """Make the run's unfinished builds look `minutes` old."""
    db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.run_id == run_id, DownloadSession.status == "requested")
        .values(updated_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def audit_entries(entity_type: str) -> list[AuditEntry]:
    db.session.rollback()
    return list(
        db.session.scalars(
            sa.select(AuditEntry).filter_by(entity_type=entity_type).order_by(AuditEntry.id)
        )
    )


def test_a_new_job_is_made_from_distributable_tables_and_audited(client, token_for):
    scheduler = token_for("scheduler")
    body = {"job_number": "1300", "name": "Loyalty", "tables": ["customer", "customer_group"]}

    created = client.post(JOBS, json=body, headers=scheduler)

    assert created.status_code == 201, created.json
    assert created.json == {**body, "direction": "download", "exclude_from_offline": False}
    assert client.get(f"{JOBS}/1300", headers=token_for("auditor")).json["tables"] == [
        "customer",
        "customer_group",
    ]
    (entry,) = audit_entries("scheduler_job")
    assert (entry.action, entry.entity_key, entry.after["tables"]) == (
        "create",
        "1300",
        ["customer", "customer_group"],
    )


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        (["customer", "sales_transaction"], "Not a distributable table: sales_transaction."),
        (["no_such_table"], "Not a distributable table: no_such_table."),
        ([], "A job carries at least one table."),
        (["tax_code", "tax_code"], "A table is named twice."),
    ],
)
def test_tables_that_are_not_distributable_are_refused_by_field(client, token_for, tables, message):
    body = {"job_number": "1300", "name": "Loyalty", "tables": tables}

    refused = client.post(JOBS, json=body, headers=token_for("admin"))

    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["message"] == message
    assert "tables" in refused.json["error"]["fields"]
    assert db.session.scalar(sa.select(SchedulerJob).filter_by(job_number="1300")) is None


def test_the_upload_job_keeps_its_tables_and_hq_may_not_change_jobs(client, token_for):
    admin = token_for("admin")

    refused = client.patch(f"{JOBS}/P-0001", json={"tables": ["customer"]}, headers=admin)
    renamed = client.patch(f"{JOBS}/P-0001", json={"name": "Sales upload"}, headers=admin)
    forbidden = client.patch(f"{JOBS}/1080", json={"name": "Tax"}, headers=token_for("hq"))

    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {"tables": "Fixed for an upload job."}
    assert renamed.status_code == 200 and renamed.json["name"] == "Sales upload"
    assert forbidden.status_code == 403


def test_changing_a_jobs_tables_sends_every_target_a_full_package_next(client, token_for):
    run_schedule()
    assert {s.status for s in sessions_by_database(run_schedule()).values()} == set()

    changed = client.patch(
        f"{JOBS}/1080",
        json={"tables": ["tax_code", "tax_rate", "sales_tax_group"]},
        headers=token_for("scheduler"),
    )
    assert changed.status_code == 200, changed.json

    sessions = sessions_by_database(run_schedule())
    assert set(sessions) == {"HOUSTON", "DALLAS", "SEATTLE"}
    assert {s.kind for s in sessions.values()} == {"full"}
    assert all("item_tax_group" not in s.package.row_counts for s in sessions.values())
    # The following run is incremental again: nothing new, nothing kept.
    assert sessions_by_database(run_schedule()) == {}
    (entry,) = [e for e in audit_entries("scheduler_job") if e.action == "update"]
    assert entry.before["tables"][-1] == "item_tax_group"


def test_jobs_page_edits_a_job_and_makes_a_new_one(client, login):
    login("scheduler")
    page = client.get("/scheduler-jobs/").text
    assert 'href="/scheduler-jobs/1080/edit"' in page and "New job" in page

    form = client.get("/scheduler-jobs/1080/edit").text
    assert '<option selected value="tax_code">' in form or 'value="tax_code" selected' in form
    saved = client.post(
        "/scheduler-jobs/1080/edit",
        data={"name": "Sales tax (US)", "tables": ["tax_code", "tax_rate"]},
    )
    made = client.post(
        "/scheduler-jobs/new",
        data={"job_number": "1300", "name": "Loyalty", "tables": ["customer"]},
    )
    refused = client.post(
        "/scheduler-jobs/new", data={"job_number": "1310", "name": "Bad", "tables": []}
    )

    assert saved.status_code == 302 and made.status_code == 302
    db.session.rollback()
    job = jobs.get_job("1080")
    assert (job.name, job.tables, job.exclude_from_offline) == (
        "Sales tax (US)",
        ["tax_code", "tax_rate"],
        False,
    )
    assert jobs.get_job("1300").tables == ["customer"]
    assert refused.status_code == 200 and "A job carries at least one table." in refused.text


def test_jobs_page_offers_no_editing_to_hq(client, login):
    login("hq")
    assert "/scheduler-jobs/1080/edit" not in client.get("/scheduler-jobs/").text
    assert client.get("/scheduler-jobs/1080/edit").status_code == 403


def test_parameters_default_to_the_settings_until_saved(app, client, token_for):
    shown = client.get(PARAMETERS, headers=token_for("auditor"))

    assert shown.status_code == 200
    assert shown.json == {
        "try_count": app.config["SESSION_TRY_COUNT"],
        "package_retention_days": app.config["PACKAGE_RETENTION_DAYS"],
        "stalled_build_minutes": app.config["STALLED_BUILD_MINUTES"],
        "max_build_attempts": app.config["MAX_BUILD_ATTEMPTS"],
        "device_silent_minutes": app.config["DEVICE_SILENT_MINUTES"],
        "device_behind_minutes": app.config["DEVICE_BEHIND_MINUTES"],
        "session_history_days": app.config["SESSION_HISTORY_DAYS"],
    }
    assert parameters.current("try_count") == 3


def test_parameters_are_stored_audited_and_bounded(client, token_for):
    scheduler = token_for("scheduler")
    every = client.get(PARAMETERS, headers=scheduler).json

    put = client.put(PARAMETERS, json={**every, "try_count": 5}, headers=scheduler)
    patched = client.patch(PARAMETERS, json={"session_history_days": 10}, headers=scheduler)
    out_of_range = client.patch(PARAMETERS, json={"try_count": 0}, headers=scheduler)
    partial_put = client.put(PARAMETERS, json={"try_count": 4}, headers=scheduler)
    by_hq = client.patch(PARAMETERS, json={"try_count": 4}, headers=token_for("hq"))

    assert put.status_code == 200 and put.json["try_count"] == 5
    assert patched.json == {**every, "try_count": 5, "session_history_days": 10}
    assert out_of_range.status_code == 422
    assert "try_count" in out_of_range.json["error"]["fields"]
    assert partial_put.status_code == 422
    assert by_hq.status_code == 403
    db.session.rollback()
    assert parameters.current("try_count") == 5
    assert parameters.current("session_history_days") == 10
    entries = audit_entries("scheduler_parameters")
    assert [(e.before, e.after) for e in entries] == [
        ({"try_count": 3}, {"try_count": 5}),
        ({"session_history_days": every["session_history_days"]}, {"session_history_days": 10}),
    ]


def test_parameters_page_saves_for_schedulers_and_shows_them_to_others(client, login):
    login("auditor")
    read_only = client.get("/scheduler-jobs/parameters").text
    assert "Try count" in read_only and "<form" not in read_only.split("<main")[-1]
    client.post("/logout")

    login("scheduler")
    values = {name: str(parameters.default(name)) for name in parameters.PARAMETERS}
    saved = client.post("/scheduler-jobs/parameters", data={**values, "stalled_build_minutes": "7"})
    refused = client.post("/scheduler-jobs/parameters", data={**values, "try_count": "-1"})

    assert saved.status_code == 302
    assert refused.status_code == 200 and "Between 1 and 100." in refused.text
    db.session.rollback()
    assert parameters.current("stalled_build_minutes") == 7


def test_the_tick_takes_a_changed_parameter_on_its_next_run(task_queue):
    """Workers read the parameters per task: no restart, no cache across tasks."""
    run = runs.request_run(db.session.scalar(sa.select(runs.DistributionSchedule)))
    db.session.commit()
    runs.plan_run(run.id)
    db.session.commit()
    age_requested_sessions(run.id, 10)

    tasks.tick.apply()  # 10 minutes is not stalled at the default of 15
    db.session.rollback()
    attempts = set(db.session.scalars(sa.select(DownloadSession.updated_at)))
    parameters.update({"stalled_build_minutes": 5})
    db.session.commit()
    tasks.tick.apply()  # now it is: the sessions are handed out again

    db.session.rollback()
    assert set(db.session.scalars(sa.select(DownloadSession.updated_at))) != attempts
    assert [name for name, _ in task_queue.tasks()].count("distribution.build_packages") == 1
