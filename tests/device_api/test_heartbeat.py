"""Heartbeats: the device's latest state per database, and every report kept as history."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.device_api.models import DeviceStatus, Heartbeat
from tests.device_api.conftest import API, database_named, device_of, sessions_of
from tests.distribution.conftest import run_schedule
from tests.factories import RegisterFactory

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")

BEAT = {
    "mode": "offline",
    "offline_since": "2026-11-20T14:03:11+01:00",
    "pending_uploads": 7,
    "last_applied_package": None,
    "app_version": "agent 1.4.2",
}


@pytest.fixture
def register(client, stores_group):
    """The headers of HOUSTON-1's activated register, its first full package built."""
    RegisterFactory(
        register_number="HOUSTON-1", store="HOUSTON", support_offline=True, activated=False
    )
    return device_of(client, "HOUSTON-1")


def beat(client, headers, **changes):
    return client.post(f"{API}/status", json={**BEAT, **changes}, headers=headers)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def refusal(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert set(response.json["error"]) == {"code", "message", "fields"}
    return response.json["error"]


def test_a_heartbeat_updates_the_latest_status_and_adds_to_the_history(client, register):
    (package,) = sessions_of("HOUSTON-1")

    response = beat(client, register, last_applied_package=package.id)

    assert response.status_code == 200, response.text
    received = datetime.fromisoformat(response.json["received_at"])
    status = db.session.get(DeviceStatus, database_named("HOUSTON-1").id)
    assert status.reported_at == received
    assert status.mode == "offline"
    assert status.offline_since == datetime(2026, 11, 20, 13, 3, 11, tzinfo=UTC)
    assert status.pending_uploads == 7
    assert status.last_applied_session_id == package.id
    assert status.app_version == "agent 1.4.2"
    (heartbeat,) = db.session.scalars(sa.select(Heartbeat)).all()
    assert heartbeat.received_at == received and heartbeat.mode == "offline"
    assert heartbeat.offline_since == status.offline_since


def test_later_heartbeats_replace_the_status_and_keep_the_history(client, register):
    assert beat(client, register).status_code == 200

    back = beat(client, register, mode="online", offline_since=None, pending_uploads=0)

    assert back.status_code == 200
    db.session.expire_all()
    (status,) = db.session.scalars(sa.select(DeviceStatus)).all()
    assert (status.mode, status.offline_since, status.pending_uploads) == ("online", None, 0)
    history = db.session.scalars(sa.select(Heartbeat).order_by(Heartbeat.id)).all()
    assert [h.mode for h in history] == ["offline", "online"]


def test_an_online_device_has_no_offline_since(client, register):
    assert beat(client, register, mode="online").status_code == 200
    assert db.session.scalar(sa.select(DeviceStatus)).offline_since is None


def test_the_heartbeat_keeps_what_hq_needs_to_help_a_store(client, register):
    response = beat(
        client,
        register,
        mode="online",
        offline_since=None,
        mode_since="2026-11-20T15:00:00+01:00",
        database_bytes=48_234_496,
        free_disk_bytes=2**40,
        last_error="Cannot reach the portal: timed out",
        sync_paused=True,
    )

    assert response.status_code == 200, response.text
    status = db.session.scalar(sa.select(DeviceStatus))
    heartbeat = db.session.scalar(sa.select(Heartbeat))
    for row in (status, heartbeat):
        assert row.mode_since == datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
        assert (row.database_bytes, row.free_disk_bytes) == (48_234_496, 2**40)
        assert row.last_error == "Cannot reach the portal: timed out"
        assert row.sync_paused is True
        assert row.offline_since is None


def test_an_offline_device_is_offline_since_its_mode_since(client, register):
    response = beat(client, register, offline_since=None, mode_since="2026-11-20T14:03:11Z")

    assert response.status_code == 200
    status = db.session.scalar(sa.select(DeviceStatus))
    since = datetime(2026, 11, 20, 14, 3, 11, tzinfo=UTC)
    assert status.offline_since == status.mode_since == since


def test_an_older_agent_s_offline_since_is_its_mode_since(client, register):
    assert beat(client, register).status_code == 200

    status = db.session.scalar(sa.select(DeviceStatus))
    assert status.mode_since == status.offline_since
    assert (status.database_bytes, status.last_error, status.sync_paused) == (None, "", False)


def test_only_mode_and_pending_uploads_are_required(client, register):
    response = client.post(
        f"{API}/status", json={"mode": "online", "pending_uploads": 0}, headers=register
    )
    assert response.status_code == 200, response.text
    status = db.session.scalar(sa.select(DeviceStatus))
    assert status.last_applied_session_id is None and status.app_version == ""


def test_a_store_server_reports_too(client):
    headers = device_of(client, "HOUSTON")
    assert beat(client, headers, mode="online").status_code == 200
    assert db.session.scalar(sa.select(DeviceStatus)).channel_database.name == "HOUSTON"


def test_another_databases_package_is_not_a_last_applied_package(client, register):
    run_schedule()
    (dallas,) = sessions_of("DALLAS")

    for package in (dallas.id, 999999):
        response = beat(client, register, last_applied_package=package)
        assert set(refusal(response, 422)["fields"]) == {"last_applied_package"}
    assert count(Heartbeat) == 0 and count(DeviceStatus) == 0


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"mode": "sleeping"}, {"mode"}),
        ({"mode": None}, {"mode"}),
        ({"pending_uploads": -1}, {"pending_uploads"}),
        ({"pending_uploads": "3"}, {"pending_uploads"}),
        ({"pending_uploads": 2.5}, {"pending_uploads"}),
        ({"pending_uploads": True}, {"pending_uploads"}),
        ({"pending_uploads": 2**40}, {"pending_uploads"}),
        ({"offline_since": "2026-11-20T14:03:11"}, {"offline_since"}),
        ({"offline_since": "yesterday"}, {"offline_since"}),
        ({"offline_since": 1763650000}, {"offline_since"}),
        ({"last_applied_package": "12"}, {"last_applied_package"}),
        ({"last_applied_package": 0}, {"last_applied_package"}),
        ({"last_applied_package": 2**40}, {"last_applied_package"}),
        ({"app_version": "x" * 41}, {"app_version"}),
        ({"app_version": 2}, {"app_version"}),
        ({"battery": 80}, {"battery"}),
        ({"mode_since": "2026-11-20T14:03:11"}, {"mode_since"}),
        ({"database_bytes": -1}, {"database_bytes"}),
        ({"database_bytes": "12"}, {"database_bytes"}),
        ({"free_disk_bytes": 10**14}, {"free_disk_bytes"}),
        ({"free_disk_bytes": 1.5}, {"free_disk_bytes"}),
        ({"last_error": "x" * 1001}, {"last_error"}),
        ({"sync_paused": "yes"}, {"sync_paused"}),
        ({"sync_paused": 1}, {"sync_paused"}),
    ],
    ids=[
        "unknown-mode",
        "null-mode",
        "negative-pending",
        "text-pending",
        "fraction-pending",
        "bool-pending",
        "huge-pending",
        "naive-offline-since",
        "not-a-date",
        "epoch-number",
        "text-package",
        "zero-package",
        "huge-package",
        "long-version",
        "number-version",
        "unknown-field",
        "naive-mode-since",
        "negative-size",
        "text-size",
        "huge-free-disk",
        "fraction-free-disk",
        "long-error",
        "text-paused",
        "number-paused",
    ],
)
def test_bad_heartbeats_are_422_naming_the_field(client, register, changes, fields):
    response = beat(client, register, **changes)

    assert set(refusal(response, 422)["fields"]) == fields
    assert count(Heartbeat) == 0 and count(DeviceStatus) == 0


@pytest.mark.parametrize(
    ("body", "fields"),
    [({}, {"mode", "pending_uploads"}), ({"mode": "online"}, {"pending_uploads"})],
)
def test_missing_fields_are_422(client, register, body, fields):
    response = client.post(f"{API}/status", json=body, headers=register)
    assert set(refusal(response, 422)["fields"]) == fields


def test_malformed_json_is_400(client, register):
    response = client.post(
        f"{API}/status", data='{"mode": ', content_type="application/json", headers=register
    )
    assert refusal(response, 400)["fields"] == {"json": "Invalid JSON body."}
    assert count(Heartbeat) == 0
