"""The distribution API: schedules, running them, and following runs and their packages."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DistributionSchedule, DownloadSession
from portal.setup.models import Store
from tests.distribution.conftest import build_run as build
from tests.factories import GroupFactory

# The isolated broker of the schedule page tests, and their stand-in for a worker.

pytestmark = pytest.mark.usefixtures("stores_group", "task_queue")

SCHEDULES = "/api/v1/distribution-schedules"


@pytest.fixture
def scheduler(token_for):
    """Bearer headers of a scheduler, who creates, edits and runs schedules."""
    return token_for("scheduler")


def stored(code: str) -> DistributionSchedule | None:
    db.session.rollback()
    return db.session.scalar(sa.select(DistributionSchedule).filter_by(code=code))


def database_id(store_number: str) -> int:
    store = db.session.scalar(sa.select(Store).filter_by(store_number=store_number))
    return store.channel_database.id


def test_create_read_update_and_delete_a_schedule(client, scheduler):
    GroupFactory(name="Parking")
    body = {
        "code": "1040",
        "name": "Products",
        "jobs": ["1040", "1020"],
        "groups": ["Stores"],
        "interval_minutes": None,
        "full_sync": False,
        "enabled": True,
    }

    created = client.post(SCHEDULES, json=body, headers=scheduler)

    assert created.status_code == 201, created.json
    assert created.json == {
        **body,
        "jobs": ["1020", "1040"],
        "cron": None,
        "time_zone": "UTC",
        "next_run_at": None,
    }
    assert [job.job_number for job in stored("1040").jobs] == ["1020", "1040"]
    assert client.get(f"{SCHEDULES}/1040", headers=scheduler).json == created.json

    changed = client.patch(
        f"{SCHEDULES}/1040",
        json={"groups": ["Parking", "Stores"], "interval_minutes": 120, "full_sync": True},
        headers=scheduler,
    )

    assert changed.status_code == 200, changed.json
    assert changed.json["groups"] == ["Parking", "Stores"]
    schedule = stored("1040")
    assert (schedule.interval_minutes, schedule.full_sync, schedule.name) == (120, True, "Products")
    assert timedelta(minutes=119) < schedule.next_run_at - utcnow() <= timedelta(minutes=120)
    assert changed.json["next_run_at"] == schedule.next_run_at.isoformat()

    deleted = client.delete(f"{SCHEDULES}/1040", headers=scheduler)

    assert deleted.status_code == 204
    assert stored("1040") is None
    actions = db.session.scalars(
        sa.select(AuditEntry.action).filter_by(
            entity_type="distribution_schedule", entity_key="1040"
        )
    ).all()
    assert sorted(actions) == ["create", "delete", "update"]


def test_list_is_paged_by_code_and_searchable(client, scheduler):
    for code in ("1000", "1010", "1020"):
        distribution.create_schedule({"code": code, "name": f"Job {code}", "jobs": [code]})
    db.session.commit()

    first = client.get(f"{SCHEDULES}?limit=2", headers=scheduler).json
    second = client.get(f"{SCHEDULES}?limit=2&cursor={first['next']}", headers=scheduler).json

    assert [item["code"] for item in first["items"]] == ["1000", "1010"]
    assert [item["code"] for item in second["items"]] == ["1020", "1080"]
    assert second["next"] is None
    found = client.get(f"{SCHEDULES}?q=sales", headers=scheduler).json["items"]
    assert [item["code"] for item in found] == ["1080"]
    assert found[0]["jobs"] == ["1080"] and found[0]["groups"] == ["Stores"]


def refused_both_ways(client, scheduler, body) -> list[dict]:
    """Create a schedule with `body`, then change 1080 with it: both 422; their field errors.

    Neither leaves anything: no schedule NEW.
    """
    created = client.post(
        SCHEDULES, json={"code": "NEW", "jobs": ["1080"], **body}, headers=scheduler
    )
    changed = client.patch(f"{SCHEDULES}/1080", json=body, headers=scheduler)
    for response in (created, changed):
        assert response.status_code == 422
        assert response.json["error"]["code"] == "validation_failed"
    assert stored("NEW") is None
    return [created.json["error"]["fields"], changed.json["error"]["fields"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jobs": ["1080", "9999"]}, "jobs"),
        ({"groups": ["Nowhere"]}, "groups"),
        ({"interval_minutes": 0.5}, "interval_minutes"),
        ({"interval_minutes": 50000}, "interval_minutes"),
        ({"enabled": "sometimes"}, "enabled"),
    ],
    ids=["unknown-job", "unknown-group", "fraction", "too-long", "not-a-flag"],
)
def test_invalid_schedule_is_refused_with_field_errors_and_nothing_saved(
    client, scheduler, body, field
):
    for fields in refused_both_ways(client, scheduler, body):
        assert field in fields
    schedule = stored("1080")
    assert [job.job_number for job in schedule.jobs] == ["1080"]
    assert [group.name for group in schedule.groups] == ["Stores"]
    assert schedule.interval_minutes is None


def test_patch_switches_a_schedule_between_a_cron_expression_and_an_interval(client, scheduler):
    nightly = {"cron": "0 2 * * *", "time_zone": "America/Chicago"}
    created = client.post(
        SCHEDULES, json={"code": "1040", "jobs": ["1040"], **nightly}, headers=scheduler
    )

    assert created.status_code == 201, created.json
    assert (created.json["cron"], created.json["interval_minutes"]) == ("0 2 * * *", None)
    next_run = datetime.fromisoformat(created.json["next_run_at"])
    assert next_run.astimezone(ZoneInfo("America/Chicago")).strftime("%H:%M") in ("02:00", "03:00")
    assert next_run > utcnow()

    to_interval = client.patch(
        f"{SCHEDULES}/1040", json={"interval_minutes": 240}, headers=scheduler
    )
    assert to_interval.status_code == 200, to_interval.json
    assert (to_interval.json["cron"], to_interval.json["interval_minutes"]) == (None, 240)
    assert to_interval.json["time_zone"] == "America/Chicago"
    schedule = stored("1040")
    assert timedelta(minutes=239) < schedule.next_run_at - utcnow() <= timedelta(minutes=240)

    to_cron = client.patch(
        f"{SCHEDULES}/1040", json={"cron": "30 6 * * 1-5", "time_zone": "UTC"}, headers=scheduler
    )
    assert to_cron.status_code == 200, to_cron.json
    assert (to_cron.json["cron"], to_cron.json["interval_minutes"]) == ("30 6 * * 1-5", None)
    schedule = stored("1040")
    assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (6, 30)
    assert schedule.next_run_at.weekday() < 5
    assert to_cron.json["next_run_at"] == schedule.next_run_at.isoformat()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"cron": "every night"}, {"cron": "Not a cron expression: 5 fields, e.g. 0 2 * * *."}),
        (
            {"cron": "0 2 * * *", "interval_minutes": 60},
            {
                "cron": "Leave empty when an interval is given.",
                "interval_minutes": "Leave empty when a cron expression is given.",
            },
        ),
        (
            {"cron": "0 2 * * *", "time_zone": "Chicago"},
            {"time_zone": "An IANA name such as America/Chicago."},
        ),
        ({"cron": 2}, {"cron": "Not a valid string."}),
    ],
    ids=["not-cron", "both", "unknown-zone", "not-a-string"],
)
def test_a_recurrence_that_cannot_be_read_is_refused_and_nothing_saved(
    client, scheduler, body, fields
):
    assert refused_both_ways(client, scheduler, body) == [fields, fields]
    schedule = stored("1080")
    assert (schedule.cron, schedule.interval_minutes, schedule.time_zone) == (None, None, "UTC")


def test_a_schedule_keeps_its_code_and_its_history(client, scheduler):
    renamed = client.patch(f"{SCHEDULES}/1080", json={"code": "TAX"}, headers=scheduler)
    assert renamed.status_code == 422 and "code" in renamed.json["error"]["fields"]

    duplicate = client.post(SCHEDULES, json={"code": "1080"}, headers=scheduler)
    assert duplicate.status_code == 409

    runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    refused = client.delete(f"{SCHEDULES}/1080", headers=scheduler)
    assert refused.status_code == 409
    assert "disable it instead" in refused.json["error"]["message"]
    assert stored("1080") is not None


def test_run_is_accepted_queued_and_reports_its_packages_once_built(
    client,
    scheduler,
    task_queue,
):
    accepted = client.post(f"{SCHEDULES}/1080/runs", json={"full": True}, headers=scheduler)

    assert accepted.status_code == 202, accepted.json
    run_id = accepted.json["id"]
    assert accepted.headers["Location"].endswith(f"/api/v1/runs/{run_id}")
    assert accepted.json["status"] == "waiting" and accepted.json["full_sync"] is True
    assert accepted.json["packages"] == []
    assert task_queue.tasks() == [("distribution.start_run", [run_id])]

    build(run_id)
    shown = client.get(f"/api/v1/runs/{run_id}", headers=scheduler).json

    run = db.session.get(DistributionRun, run_id)
    assert shown["schedule"] == "1080" and shown["status"] == "done"
    assert shown["requested_by"] == run.requested_by and "@" in run.requested_by
    assert shown["watermark"] == run.watermark and shown["finished_at"] is not None
    assert shown["progress"] == {
        "sessions_total": 3,
        "sessions_done": 3,
        "sessions_failed": 0,
        "sessions_no_data": 0,
        "rows_written": run.rows_written,
        "percent": 100,
    }
    houston = next(p for p in shown["packages"] if p["channel_database"] == database_id("HOUSTON"))
    session = db.session.get(DownloadSession, houston["session"])
    assert houston == {
        "session": session.id,
        "channel_database": session.channel_database_id,
        "job": "1080",
        "kind": "full",
        "status": "available",
        "status_label": "Available",
        "base_version": 0,
        "new_version": run.watermark,
        "sha256": session.package.sha256,
        "size": session.package.size,
        "row_counts": session.package.row_counts,
        "message": "",
    }
    assert len(shown["packages"]) == 3


def test_run_for_one_channel_database_builds_exactly_one_full_package(client, scheduler):
    build(client.post(f"{SCHEDULES}/1080/runs", json={}, headers=scheduler).json["id"])
    dallas = database_id("DALLAS")

    accepted = client.post(
        f"{SCHEDULES}/1080/runs",
        json={"full": False, "channel_database": dallas},
        headers=scheduler,
    )

    assert accepted.status_code == 202, accepted.json
    assert accepted.json["channel_database"] == dallas and accepted.json["full_sync"] is True
    build(accepted.json["id"])
    packages = client.get(f"/api/v1/runs/{accepted.json['id']}", headers=scheduler).json["packages"]
    assert [(p["channel_database"], p["kind"], p["status"]) for p in packages] == [
        (dallas, "full", "available")
    ]


def test_run_refusals(client, scheduler, task_queue):
    unknown_schedule = client.post(f"{SCHEDULES}/NOPE/runs", json={}, headers=scheduler)
    unknown_database = client.post(
        f"{SCHEDULES}/1080/runs", json={"channel_database": 999999}, headers=scheduler
    )
    GroupFactory(name="Elsewhere")
    distribution.update_schedule(distribution.get_schedule("1080"), {"groups": ["Elsewhere"]})
    db.session.commit()
    untargeted = client.post(
        f"{SCHEDULES}/1080/runs",
        json={"channel_database": database_id("SEATTLE")},
        headers=scheduler,
    )

    assert unknown_schedule.status_code == 404
    assert unknown_database.status_code == 422
    assert unknown_database.json["error"]["fields"] == {
        "channel_database": "Unknown channel database."
    }
    assert untargeted.status_code == 422
    assert "sends nothing to channel database 'SEATTLE'" in untargeted.json["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRun)) == 0
    assert task_queue.tasks() == []


def test_runs_are_listed_by_schedule_and_status(client, scheduler):
    distribution.create_schedule({"code": "1000", "jobs": ["1000"], "groups": ["Stores"]})
    db.session.commit()
    first = client.post(f"{SCHEDULES}/1080/runs", json={}, headers=scheduler).json["id"]
    second = client.post(f"{SCHEDULES}/1080/runs", json={}, headers=scheduler).json["id"]
    other = client.post(f"{SCHEDULES}/1000/runs", json={}, headers=scheduler).json["id"]
    build(first)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/runs{query}", headers=scheduler)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert ids("") == [first, second, other]
    assert ids("?schedule=1080") == [first, second]
    assert ids("?schedule=1080&status=waiting") == [second]
    assert ids("?status=done") == [first]
    page = client.get("/api/v1/runs?limit=2", headers=scheduler).json
    assert [item["id"] for item in page["items"]] == [first, second]
    assert "packages" not in page["items"][0]
    assert ids(f"?cursor={page['next']}") == [other]
    assert client.get("/api/v1/runs?status=lost", headers=scheduler).status_code == 422
    assert client.get("/api/v1/runs/999999", headers=scheduler).status_code == 404


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", SCHEDULES, {"code": "NEW", "jobs": ["1080"]}),
        ("patch", f"{SCHEDULES}/1080", {"name": "Changed"}),
        ("delete", f"{SCHEDULES}/1080", None),
        ("post", f"{SCHEDULES}/1080/runs", {"full": True}),
    ],
    ids=["create", "update", "delete", "run"],
)
def test_auditor_may_read_but_not_change_or_run(
    client,
    token_for,
    task_queue,
    method,
    url,
    body,
):
    auditor = token_for("auditor")

    response = getattr(client, method)(url, json=body, headers=auditor)

    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert stored("NEW") is None and stored("1080").name == "Sales tax"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRun)) == 0
    assert task_queue.tasks() == []
    assert client.get(f"{SCHEDULES}/1080", headers=auditor).status_code == 200


def test_without_a_token_nothing_is_answered(client):
    assert client.get(SCHEDULES).status_code == 401
    assert client.get("/api/v1/runs").status_code == 401
    assert client.post(f"{SCHEDULES}/1080/runs", json={}).status_code == 401
