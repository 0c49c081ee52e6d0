"""Schedule and run pages through real HTTP: create, edit, delete, run now, and live progress."""

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DistributionSchedule
from tests.distribution.conftest import build_run as build
from tests.factories import GroupFactory

pytestmark = pytest.mark.usefixtures("stores_group", "task_queue")

NEW_SCHEDULE = {
    "code": "1040",
    "name": "Products",
    "jobs": ["1040", "1020"],
    "groups": ["Stores", "Parking"],
    "interval_minutes": "60",
    "full_sync": "y",
    "enabled": "y",
}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def committed_schedule(code: str) -> DistributionSchedule | None:
    # A rollback first, so only what the request committed is seen.
    db.session.rollback()
    return db.session.scalar(sa.select(DistributionSchedule).filter_by(code=code))


def schedule_count() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(DistributionSchedule))


def runs_of(code: str) -> list[DistributionRun]:
    db.session.rollback()
    return list(db.session.scalars(runs.runs_query(schedule_code=code)))


def audit_entries(action: str, key: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry).filter_by(
                entity_type="distribution_schedule", entity_key=key, action=action
            )
        )
    )


def test_scheduler_creates_a_schedule_with_jobs_groups_and_recurrence(client, login):
    GroupFactory(name="Parking")
    email = login("scheduler")

    response = client.post("/distribution/schedules/new", data=NEW_SCHEDULE)

    assert response.status_code == 302
    assert response.location.endswith("/distribution/schedules/1040")
    schedule = committed_schedule("1040")
    assert schedule.name == "Products"
    assert [job.job_number for job in schedule.jobs] == ["1020", "1040"]
    assert [group.name for group in schedule.groups] == ["Parking", "Stores"]
    assert (schedule.interval_minutes, schedule.full_sync, schedule.enabled) == (60, True, True)
    (entry,) = audit_entries("create", "1040")
    assert (entry.actor, entry.source) == (email, "web")
    assert entry.after["jobs"] == ["1020", "1040"]


def test_form_offers_the_catalogue_jobs_and_the_groups(client, login):
    GroupFactory(name="Parking")
    login("scheduler")

    page = text(client.get("/distribution/schedules/new"))

    assert '<option value="1080">1080 Sales tax</option>' in page
    assert '<option value="P-0001">P-0001 Channel transactions</option>' in page
    assert '<option value="Parking">Parking</option>' in page
    assert 'for="interval_minutes"' in page and 'for="jobs"' in page and 'for="groups"' in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"jobs": ["1080", "9999"]}, "jobs", "Unknown scheduler job(s): 9999."),
        ({"groups": ["Nowhere"]}, "groups", "Channel data group 'Nowhere' does not exist."),
        ({"interval_minutes": "0.5"}, "interval_minutes", "Not a valid integer value."),
        ({"code": "no spaces"}, "code", "Code 'NO SPACES' is not valid."),
    ],
    ids=["unknown-job", "unknown-group", "bad-interval", "bad-code"],
)
def test_invalid_schedule_is_refused_and_nothing_is_saved(client, login, change, field, message):
    login("scheduler")
    before = schedule_count()

    response = client.post(
        "/distribution/schedules/new", data={**NEW_SCHEDULE, "groups": ["Stores"], **change}
    )

    assert response.status_code == 200
    page = text(response)
    assert message in page
    assert re.search(rf'class="[^"]*is-invalid[^"]*" id="{field}"', page)
    assert schedule_count() == before
    assert committed_schedule(NEW_SCHEDULE["code"].upper()) is None


def test_editing_a_recurrence_sets_the_next_run_one_interval_ahead(client, login):
    GroupFactory(name="Parking")
    email = login("scheduler")

    response = client.post(
        "/distribution/schedules/1080/edit",
        data={
            "name": "Sales tax, hourly",
            "jobs": ["1080", "1000"],
            "groups": ["Parking"],
            "interval_minutes": "90",
            "enabled": "y",
        },
    )

    assert response.status_code == 302
    schedule = committed_schedule("1080")
    assert schedule.name == "Sales tax, hourly"
    assert [job.job_number for job in schedule.jobs] == ["1000", "1080"]
    assert [group.name for group in schedule.groups] == ["Parking"]
    assert (schedule.interval_minutes, schedule.full_sync) == (90, False)
    due = schedule.next_run_at - utcnow()
    assert timedelta(minutes=89) < due <= timedelta(minutes=90)
    (entry,) = audit_entries("update", "1080")
    assert entry.actor == email
    assert entry.before["groups"] == ["Stores"] and entry.after["groups"] == ["Parking"]
    assert entry.before["interval_minutes"] is None and entry.after["interval_minutes"] == 90


def test_clearing_the_recurrence_makes_a_schedule_on_demand(client, login):
    schedule = distribution.get_schedule("1080")
    distribution.update_schedule(schedule, {"interval_minutes": 30})
    db.session.commit()
    login("scheduler")

    form = text(client.get("/distribution/schedules/1080/edit"))
    assert 'value="30"' in form
    client.post(
        "/distribution/schedules/1080/edit",
        data={
            "name": "Sales tax",
            "jobs": ["1080"],
            "groups": ["Stores"],
            "interval_minutes": "",
            "enabled": "y",
        },
    )

    schedule = committed_schedule("1080")
    assert (schedule.interval_minutes, schedule.next_run_at) == (None, None)


def test_a_nightly_cron_schedule_is_created_shown_and_edited_in_its_time_zone(client, login):
    email = login("scheduler")
    form = text(client.get("/distribution/schedules/new"))
    assert 'for="cron"' in form and 'for="time_zone"' in form
    assert 'aria-describedby="cron-help"' in form and "0 2 * * *" in form
    assert '<option selected value="UTC">UTC</option>' in form
    assert '<option value="America/Chicago">America/Chicago</option>' in form

    response = client.post(
        "/distribution/schedules/new",
        data={
            **NEW_SCHEDULE,
            "groups": ["Stores"],
            "interval_minutes": "",
            "cron": "0 2 * * *",
            "time_zone": "America/Chicago",
        },
    )

    assert response.status_code == 302
    schedule = committed_schedule("1040")
    assert (schedule.interval_minutes, schedule.cron, schedule.time_zone) == (
        None,
        "0 2 * * *",
        "America/Chicago",
    )
    local = schedule.next_run_at.astimezone(ZoneInfo("America/Chicago"))
    (entry,) = audit_entries("create", "1040")
    assert (entry.actor, entry.after["cron"]) == (email, "0 2 * * *")

    detail = re.sub(r"<[^>]+>", "", text(client.get("/distribution/schedules/1040")))
    assert "Cron 0 2 * * * (America/Chicago)" in detail
    assert f"{schedule.next_run_at:%Y-%m-%d %H:%M:%S} UTC" in detail
    assert f"({local:%Y-%m-%d %H:%M} America/Chicago)" in detail
    listed = re.sub(r"<[^>]+>", "", text(client.get("/distribution/schedules/")))
    assert "Cron 0 2 * * * (America/Chicago)" in listed
    assert f"Next run: {schedule.next_run_at:%Y-%m-%d %H:%M:%S} UTC" in listed

    edit = text(client.get("/distribution/schedules/1040/edit"))
    assert 'value="0 2 * * *"' in edit
    assert '<option selected value="America/Chicago">America/Chicago</option>' in edit


@pytest.mark.parametrize(
    ("change", "messages"),
    [
        (
            {"cron": "2am"},
            {"cron": "Not a cron expression: 5 fields, e.g. 0 2 * * *."},
        ),
        (
            {"cron": "0 2 * * *", "interval_minutes": "60"},
            {
                "cron": "Leave empty when an interval is given.",
                "interval_minutes": "Leave empty when a cron expression is given.",
            },
        ),
        (
            {"cron": "0 2 * * *", "time_zone": "Central"},
            {"time_zone": "An IANA name such as America/Chicago."},
        ),
    ],
    ids=["not-cron", "both", "unknown-zone"],
)
def test_a_recurrence_that_cannot_be_read_is_refused_on_its_field(client, login, change, messages):
    login("scheduler")

    response = client.post(
        "/distribution/schedules/1080/edit",
        data={
            "name": "Sales tax",
            "jobs": ["1080"],
            "groups": ["Stores"],
            "enabled": "y",
            **change,
        },
    )

    assert response.status_code == 200
    page = text(response)
    for field, message in messages.items():
        assert re.search(rf'class="[^"]*is-invalid[^"]*" id="{field}"', page)
        assert f'id="{field}-error-1">{message}</div>' in page
    schedule = committed_schedule("1080")
    assert (schedule.cron, schedule.interval_minutes, schedule.time_zone) == (None, None, "UTC")
    assert audit_entries("update", "1080") == []


def test_edit_with_an_unknown_group_changes_nothing(client, login):
    login("scheduler")

    response = client.post(
        "/distribution/schedules/1080/edit",
        data={"name": "Renamed", "jobs": ["1080"], "groups": ["Gone"], "enabled": "y"},
    )

    assert response.status_code == 200
    assert "Channel data group 'Gone' does not exist." in text(response)
    schedule = committed_schedule("1080")
    assert schedule.name == "Sales tax"
    assert [group.name for group in schedule.groups] == ["Stores"]
    assert audit_entries("update", "1080") == []


def test_a_schedule_that_never_ran_is_deleted_after_confirmation(client, login):
    login("scheduler")

    confirm = text(client.get("/distribution/schedules/1080/delete"))
    assert "Delete distribution schedule 1080?" in confirm
    assert committed_schedule("1080") is not None

    response = client.post("/distribution/schedules/1080/delete")

    assert response.status_code == 302
    assert committed_schedule("1080") is None
    assert len(audit_entries("delete", "1080")) == 1


def test_a_schedule_with_runs_is_kept_and_the_user_told_to_disable_it(client, login):
    runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    login("scheduler")

    confirm = text(client.get("/distribution/schedules/1080/delete"))
    assert "has 1 run(s)" in confirm
    response = client.post("/distribution/schedules/1080/delete", follow_redirects=True)

    assert "disable it instead" in text(response)
    assert committed_schedule("1080") is not None
    assert audit_entries("delete", "1080") == []


def test_list_shows_jobs_groups_recurrence_and_last_run(client, login):
    schedule = distribution.get_schedule("1080")
    distribution.update_schedule(schedule, {"interval_minutes": 15})
    distribution.create_schedule({"code": "1000", "name": "Currency", "enabled": False})
    db.session.commit()
    run = runs.request_run(schedule)
    db.session.commit()
    login("auditor")

    page = text(client.get("/distribution/schedules/"))

    rows = {code: row for row in page.split("<tr>") for code in ("1080", "1000") if code in row}
    assert "Sales tax" in rows["1080"] and "Stores" in rows["1080"]
    assert "Every 15 min" in rows["1080"] and "Enabled" in rows["1080"]
    assert f"Run {run.id}" in rows["1080"] and "waiting" in rows["1080"]
    assert "On demand" in rows["1000"] and "Disabled" in rows["1000"]
    assert "never run" in rows["1000"]
    assert "New schedule" not in page  # auditors read, but do not change schedules
    searched = text(client.get("/distribution/schedules/?q=curr"))
    assert "Currency" in searched and "Sales tax" not in searched


def test_run_now_records_a_run_queues_it_and_a_worker_builds_it(client, login, task_queue):
    email = login("scheduler")

    response = client.post("/distribution/schedules/1080/run", data={"full": "y"})

    (run,) = runs_of("1080")
    assert response.location.endswith(f"/distribution/runs/{run.id}")
    assert (run.status, run.full_sync, run.requested_by) == ("waiting", True, email)
    assert task_queue.tasks() == [("distribution.start_run", [run.id])]

    run = build(run.id)

    assert (run.status, run.sessions_done, run.sessions_total) == ("done", 3, 3)
    page = text(client.get(f"/distribution/runs/{run.id}"))
    assert '<span data-field="sessions_done">3</span> of' in page
    assert '<span data-field="percent">100</span>%' in page
    assert "HOUSTON" in page and "SEATTLE" in page
    assert 'data-finished="true"' in page
    history = text(client.get("/distribution/schedules/1080"))
    assert f"Run {run.id}" in history and "Full data sync" in history


def test_run_now_without_a_reachable_queue_leaves_the_run_waiting_and_says_why(
    client, login, task_queue
):
    login("hq")
    task_queue.go_down()

    response = client.post("/distribution/schedules/1080/run", follow_redirects=True)

    (run,) = runs_of("1080")
    assert run.status == "waiting" and not run.full_sync
    assert "task queue is unreachable" in run.message
    page = text(response)
    assert f"Run {run.id} is waiting" in page
    assert "A worker has not picked this run up yet." in page
    assert run.message in page
    assert 'data-finished="false"' in page

    run = build(run.id)  # the queue is back and a worker takes the run
    assert run.status == "done"


def test_a_disabled_schedule_cannot_be_run(client, login, task_queue):
    distribution.update_schedule(distribution.get_schedule("1080"), {"enabled": False})
    db.session.commit()
    login("scheduler")

    page = text(client.post("/distribution/schedules/1080/run", follow_redirects=True))

    assert "is disabled; enable it first" in page
    assert runs_of("1080") == []
    assert task_queue.tasks() == []


def test_progress_json_follows_the_run(client, login):
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    login("auditor")

    waiting = client.get(f"/distribution/runs/{run.id}/progress")
    assert waiting.headers["Cache-Control"] == "no-store"
    assert waiting.json == {
        "id": run.id,
        "status": "waiting",
        "status_label": "Waiting",
        "finished": False,
        "sessions_total": 0,
        "sessions_done": 0,
        "sessions_failed": 0,
        "sessions_no_data": 0,
        "rows_written": 0,
        "percent": 0,
        "message": "Waiting for a worker to pick the run up.",
    }

    first, *others = runs.plan_run(run.id)
    db.session.commit()
    builds.build_session(first)
    db.session.commit()
    running = client.get(f"/distribution/runs/{run.id}/progress").json
    assert (running["status"], running["sessions_done"], running["sessions_total"]) == (
        "running",
        1,
        3,
    )
    assert running["percent"] == 33 and running["rows_written"] > 0

    for session_id in others:
        builds.build_session(session_id)
        db.session.commit()
    done = client.get(f"/distribution/runs/{run.id}/progress").json
    assert (done["status"], done["finished"], done["percent"]) == ("done", True, 100)


def test_run_page_follows_progress_with_a_script_file_not_inline(client, login):
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    login("auditor")

    page = client.get(f"/distribution/runs/{run.id}").get_data(as_text=True)

    assert f'data-progress-url="/distribution/runs/{run.id}/progress"' in page
    assert 'data-finished="false"' in page
    assert 'role="progressbar"' in page and 'aria-valuenow="0"' in page
    assert '<script src="/static/js/run-progress.js">' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    with client.get("/static/js/run-progress.js") as script:
        assert script.status_code == 200


def test_progress_needs_sign_in(client):
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()

    response = client.get(f"/distribution/runs/{run.id}/progress")

    assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("post", "/distribution/schedules/new", NEW_SCHEDULE),
        ("get", "/distribution/schedules/new", None),
        ("post", "/distribution/schedules/1080/edit", {"name": "Changed", "jobs": ["1080"]}),
        ("post", "/distribution/schedules/1080/run", {"full": "y"}),
        ("post", "/distribution/schedules/1080/delete", None),
    ],
    ids=["create", "create-form", "edit", "run", "delete"],
)
def test_auditor_may_not_change_or_run_schedules(client, login, task_queue, method, url, data):
    login("auditor")

    response = getattr(client, method)(url, data=data)

    assert response.status_code == 403
    schedule = committed_schedule("1080")
    assert schedule is not None and schedule.name == "Sales tax"
    assert committed_schedule("1040") is None
    assert runs_of("1080") == []
    assert task_queue.tasks() == []


def test_auditor_sees_no_change_or_run_buttons(client, login):
    login("auditor")

    page = text(client.get("/distribution/schedules/1080"))

    assert "Run now" not in page and ">Edit<" not in page and ">Delete<" not in page
    assert "This schedule has not run yet." in page


def test_nav_leads_to_schedules_and_sessions(client, login):
    login("auditor")

    home = text(client.get("/"))
    page = text(client.get("/distribution/schedules/"))

    assert 'href="/distribution/schedules/">Distribution</a>' in home
    assert 'href="/distribution/sessions/"' in page
