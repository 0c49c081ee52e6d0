"""Reporting packages applied: strictly in order, failures hold back, full packages supersede."""

from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import current_app

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.device_api import packages
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DownloadSession
from portal.masterdata.tax import TaxRate
from tests.device_api.conftest import API, device_of, legacy_no_data_session, sessions_of
from tests.distribution.conftest import run_schedule

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")


@pytest.fixture
def houston(client):
    """The headers of HOUSTON's activated store server, its first full package built."""
    return device_of(client, "HOUSTON")


_rates = iter(Decimal("6.30") + Decimal("0.05") * n for n in range(100))


def change_texas_rate() -> None:
    """A new Texas rate, so the next run gives the Texas stores an incremental package."""
    db.session.scalar(sa.select(TaxRate).filter_by(tax_code="TX-STATE")).rate = next(_rates)
    db.session.commit()


def incremental() -> int:
    """Build a new incremental package for HOUSTON; its session id."""
    change_texas_rate()
    run_schedule()
    return sessions_of("HOUSTON")[-1].id


def report(client, headers, session_id: int, status: str = "applied", **extra):
    return client.post(
        f"{API}/packages/{session_id}/status",
        json={"status": status, **extra},
        headers=headers,
    )


def statuses() -> dict[int, str]:
    return {s.id: s.status for s in sessions_of("HOUSTON")}


def refusal(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert set(response.json["error"]) == {"code", "message", "fields"}
    return response.json["error"]


def test_packages_applied_in_order_are_accepted(client, houston):
    (first,) = statuses()
    second = incremental()

    applied = report(client, houston, first)
    assert applied.status_code == 200
    assert applied.json["id"] == first and applied.json["status"] == "applied"
    assert applied.json["sha256"] and applied.json["kind"] == "full"
    assert report(client, houston, second).status_code == 200

    assert statuses() == {first: "applied", second: "applied"}
    entry = db.session.scalar(
        sa.select(AuditEntry).filter_by(entity_type="download_session", entity_key=str(second))
    )
    assert entry.actor == "device:HOUSTON" and entry.after["status"] == "applied"


def test_applying_out_of_order_is_409_naming_the_package_to_apply_first(client, houston):
    (first,) = statuses()
    second = incremental()

    response = report(client, houston, second)

    error = refusal(response, 409)
    assert error["message"] == f"Apply package {first} (job 1080) first."
    assert error["fields"] == {"must_apply_first": first}
    assert statuses() == {first: "available", second: "available"}


def test_reporting_applied_again_is_harmless(client, houston):
    (first,) = statuses()
    assert report(client, houston, first).status_code == 200

    again = report(client, houston, first)

    assert again.status_code == 200 and again.json["status"] == "applied"
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).filter_by(action="report")
        )
        == 1
    )


def test_a_report_wins_over_the_download_mark_landing_after_it_was_read(houston):
    """A fast device reports applied before the server has marked its download finished."""
    (first,) = statuses()
    session = db.session.get(DownloadSession, first)
    assert session.status == "available"
    # The content endpoint's mark lands in the database; the session read above still says
    # available, as it would in the report's request.
    db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.id == first)
        .values(status="downloaded")
        .execution_options(synchronize_session=False)
    )

    packages.report(session, "applied")
    db.session.commit()

    assert statuses() == {first: "applied"}


def test_a_failed_package_holds_back_the_later_ones_until_applied_on_retry(client, houston):
    (first,) = statuses()
    second = incremental()

    failed = report(client, houston, first, "apply_failed", message="disk full")
    # Offered again for another try, the device's words kept in the message.
    assert failed.status_code == 200 and failed.json["status"] == "available"
    assert sessions_of("HOUSTON")[0].message == "Failed to apply (try 1 of 3): disk full"
    listed = client.get(f"{API}/packages", headers=houston).json["items"]
    assert [(i["id"], i["status"]) for i in listed] == [
        (first, "available"),
        (second, "available"),
    ]

    held = report(client, houston, second)
    assert refusal(held, 409)["fields"] == {"must_apply_first": first}

    assert report(client, houston, first, "apply_failed", message="still full").status_code == 200
    assert report(client, houston, first).status_code == 200
    assert report(client, houston, second).status_code == 200
    assert statuses() == {first: "applied", second: "applied"}


def test_a_later_full_package_supersedes_the_pending_ones_of_its_job(client, houston):
    (first,) = statuses()
    assert report(client, houston, first).status_code == 200
    second = incremental()
    report(client, houston, second, "apply_failed", message="corrupt")
    third = incremental()
    run_schedule(full=True)
    full = sessions_of("HOUSTON")[-1]
    assert full.kind == "full"

    # The two pending incrementals before it need not be applied first: the full one replaces them.
    applied = report(client, houston, full.id)

    assert applied.status_code == 200
    superseded = {s.id: (s.status, s.message) for s in sessions_of("HOUSTON")}
    reason = f"superseded by full package {full.id}"
    assert superseded[second] == ("canceled", reason)
    assert superseded[third] == ("canceled", reason)
    assert superseded[first] == ("applied", "")
    assert client.get(f"{API}/packages", headers=houston).json["items"] == []
    entry = db.session.scalar(
        sa.select(AuditEntry).filter_by(action="report", entity_key=str(full.id))
    )
    assert entry.after["superseded"] == [second, third]
    canceled = report(client, houston, second)
    assert "canceled" in refusal(canceled, 409)["message"]


def test_a_full_package_does_not_excuse_an_earlier_one_of_another_job(client, houston):
    (tax,) = statuses()
    distribution.create_schedule(
        {"code": "1000", "name": "Currency", "jobs": ["1000"], "groups": ["Stores"]}
    )
    db.session.commit()
    currency = run_schedule("1000")
    (currency_session,) = [s for s in sessions_of("HOUSTON") if s.run_id == currency.id]
    assert report(client, houston, tax).status_code == 200
    later_tax = incremental()

    held = report(client, houston, later_tax)

    error = refusal(held, 409)
    assert error["message"] == f"Apply package {currency_session.id} (job 1000) first."
    assert report(client, houston, currency_session.id).status_code == 200
    assert report(client, houston, later_tax).status_code == 200


def test_a_package_still_being_built_holds_back_later_ones_until_a_full_one_supersedes_it(
    client, houston
):
    (first,) = statuses()
    assert report(client, houston, first).status_code == 200
    change_texas_rate()
    slow = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    runs.plan_run(slow.id)  # its sessions are requested; no worker has built them yet
    db.session.commit()
    (unbuilt,) = [s for s in sessions_of("HOUSTON") if s.run_id == slow.id]
    later = incremental()

    held = report(client, houston, later)
    assert refusal(held, 409)["fields"] == {"must_apply_first": unbuilt.id}

    run_schedule(full=True)
    full = sessions_of("HOUSTON")[-1].id
    assert report(client, houston, full).status_code == 200

    assert statuses()[unbuilt.id] == "canceled"
    run = db.session.get(DistributionRun, slow.id)
    assert run.status == "running" and run.sessions_done == 1  # counted, two targets to go
    left = db.session.scalars(
        sa.select(DownloadSession.id).filter_by(run_id=slow.id, status="requested")
    ).all()
    assert len(left) == 2
    for session_id in left:
        builds.build_session(session_id)
        db.session.commit()
    db.session.expire_all()
    run = db.session.get(DistributionRun, slow.id)
    assert run.status == "done" and run.sessions_done == run.sessions_total == 3
    assert statuses()[unbuilt.id] == "canceled"  # its late build left it alone


def test_a_full_package_also_supersedes_a_build_that_failed(client, houston, tmp_path, monkeypatch):
    (first,) = statuses()
    assert report(client, houston, first).status_code == 200
    change_texas_rate()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with monkeypatch.context() as patch:
        patch.setitem(current_app.config, "PACKAGE_STORE", str(blocker))
        run_schedule()
    failed = sessions_of("HOUSTON")[-1]
    assert failed.status == "create_failed"
    later = incremental()
    assert refusal(report(client, houston, later), 409)["fields"] == {"must_apply_first": failed.id}

    run_schedule(full=True)
    full = sessions_of("HOUSTON")[-1].id

    assert report(client, houston, full).status_code == 200
    assert statuses()[failed.id] == "canceled" and statuses()[later] == "canceled"


# --- Bad reports -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("send", "status", "fields"),
    [
        ({"json": {}}, 422, {"status"}),
        ({"json": {"status": "done"}}, 422, {"status"}),
        ({"json": {"status": "available"}}, 422, {"status"}),
        ({"json": {"status": "applied", "note": "x"}}, 422, {"note"}),
        ({"json": {"status": "apply_failed", "message": 5}}, 422, {"message"}),
        ({"json": {"status": "apply_failed", "message": "x" * 2001}}, 422, {"message"}),
        ({"data": '{"status": "applied"', "content_type": "application/json"}, 400, {"json"}),
    ],
    ids=[
        "empty",
        "unknown-status",
        "not-reportable",
        "unknown-field",
        "message-not-text",
        "message-too-long",
        "malformed-json",
    ],
)
def test_bad_reports_are_refused_naming_the_field(client, houston, send, status, fields):
    (first,) = statuses()

    response = client.post(f"{API}/packages/{first}/status", headers=houston, **send)

    assert set(refusal(response, status)["fields"]) == fields
    assert statuses() == {first: "available"}


def test_reports_on_packages_that_cannot_take_them_are_409_or_404(client, houston):
    (first,) = statuses()
    run = run_schedule()  # nothing changed: counted on the run, no session kept
    assert run.sessions_no_data and all(s.run_id != run.id for s in sessions_of("HOUSTON"))
    no_data = legacy_no_data_session(sessions_of("HOUSTON")[-1])

    assert "no_data" in refusal(report(client, houston, no_data.id), 409)["message"]
    assert report(client, houston, first).status_code == 200
    late_failure = report(client, houston, first, "apply_failed")
    assert "applied" in refusal(late_failure, 409)["message"]
    assert refusal(report(client, houston, 999999), 404)["code"] == "not_found"
    assert statuses()[first] == "applied"
