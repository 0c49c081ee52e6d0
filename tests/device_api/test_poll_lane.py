"""The poll lane: routine heartbeats and unchanged package lists answered in one statement each,
as the app answers them; everything else goes on to the app (PostgreSQL only)."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from werkzeug.test import Client

from portal.core.extensions import db
from portal.core.logs import REQUEST_ID_HEADER
from portal.core.security import SECURITY_HEADERS
from portal.device_api.credentials import LAST_USED_GRANULARITY
from portal.device_api.models import DeviceStatus, DeviceToken, Heartbeat
from portal.device_api.poll_lane import PollLane
from portal.distribution.models import DownloadSession
from tests.device_api.conftest import API, database_named, device_of
from tests.device_api.test_packages import change_texas_rate
from tests.distribution.conftest import run_schedule

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")

AVAILABLE = f"{API}/packages?status=available"
REPORT = {
    "mode": "offline",
    "mode_since": "2026-12-07T09:15:00-06:00",
    "pending_uploads": 12,
    "app_version": "2.4.1",
    "database_bytes": 52_428_800,
    "free_disk_bytes": 8_000_000_000,
    "last_error": "HQ did not answer within 10 s",
    "sync_paused": True,
}


@pytest.fixture(autouse=True)
def _postgresql(app):
    if not isinstance(app.wsgi_app, PollLane):
        pytest.skip("the lane runs on PostgreSQL only; SQLite requests all go to the app")


@pytest.fixture
def houston(client):
    """The headers of HOUSTON's activated store server, its first full package built."""
    return device_of(client, "HOUSTON")


@pytest.fixture
def behind(app):
    """A client of the app behind the lane: what every request got before it."""
    return Client(app.wsgi_app.wsgi_app, app.response_class)


@pytest.fixture
def statements(app):
    """The statements each request sends to the database, as it sends them."""
    sent: list[str] = []

    def note(connection, cursor, statement, *_):
        sent.append(statement)

    # Every engine's: the lane has one of its own.
    sa.event.listen(sa.Engine, "before_cursor_execute", note)
    yield sent
    sa.event.remove(sa.Engine, "before_cursor_execute", note)


def heartbeat(client, headers, **changes):
    return client.post(f"{API}/status", json={**REPORT, **changes}, headers=headers)


def check(client, headers, etag=None, path=AVAILABLE):
    return client.get(path, headers={**headers, **({"If-None-Match": etag} if etag else {})})


def status_of(name: str) -> dict:
    db.session.expire_all()
    status = db.session.get(DeviceStatus, database_named(name).id)
    return {
        column.key: getattr(status, column.key)
        for column in DeviceStatus.__table__.c
        if column.key != "reported_at"
    }


def heartbeats_of(name: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Heartbeat)
        .where(Heartbeat.channel_database_id == database_named(name).id)
    )


def test_a_routine_heartbeat_and_an_unchanged_list_are_one_statement_each(
    client, houston, statements
):
    etag = check(client, houston).headers["ETag"]
    statements.clear()

    beat = heartbeat(client, houston)
    beat_statements = list(statements)
    statements.clear()
    unchanged = check(client, houston, etag)

    assert beat.status_code == 200, beat.text
    assert set(beat.json) == {"received_at", "upload_requested"}
    assert beat.json["upload_requested"] is False
    assert len(beat_statements) == 1
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag
    assert len(statements) == 1


def test_the_lane_keeps_what_the_app_keeps_of_a_heartbeat(client, houston, behind):
    last_applied = max(session.id for session in _sessions("HOUSTON"))
    report = {"last_applied_package": last_applied}

    through_app = heartbeat(behind, houston, **report)
    kept_by_app = status_of("HOUSTON")
    through_lane = heartbeat(client, houston, **report, pending_uploads=13)
    kept_by_lane = status_of("HOUSTON")

    assert through_app.status_code == through_lane.status_code == 200
    assert through_app.json.keys() == through_lane.json.keys()
    assert through_lane.json["received_at"] >= through_app.json["received_at"]
    assert kept_by_lane == kept_by_app | {"pending_uploads": 13}
    assert kept_by_lane["last_applied_session_id"] == last_applied
    assert kept_by_lane["sync_paused"] is True and kept_by_lane["mode"] == "offline"
    assert heartbeats_of("HOUSTON") == 2


def test_what_is_not_routine_goes_on_to_the_app_and_the_lane_writes_nothing(
    client, houston, behind
):
    dallas = device_of(client, "DALLAS")
    of_dallas = max(session.id for session in _sessions("DALLAS"))
    cases = {
        "unknown token": ({"Authorization": f"Bearer hqd_{uuid.uuid4().hex}"}, {}),
        "no token": ({}, {}),
        "another database's package": (houston, {"last_applied_package": of_dallas}),
        "a field the schema does not name": (houston, {"colour": "red"}),
        "a mode it does not know": (houston, {"mode": "asleep"}),
        "text no column can store": (houston, {"last_error": "disk\x00full"}),
    }
    for case, (headers, changes) in cases.items():
        before = heartbeats_of("HOUSTON")
        lane = heartbeat(client, headers, **changes)
        app = heartbeat(behind, headers, **changes)
        assert lane.status_code == app.status_code and lane.status_code in (401, 422), case
        assert lane.json == app.json, case
        assert heartbeats_of("HOUSTON") == before, case
    # A body that is not JSON the lane reads goes on too.
    sent_as_text = client.post(
        f"{API}/status", data="mode=online", headers={**houston, "Content-Type": "text/plain"}
    )
    assert sent_as_text.status_code == 422
    assert heartbeat(client, dallas).status_code == 200


def test_a_changed_list_another_page_or_no_etag_get_the_app_s_full_answer(client, houston):
    etag = check(client, houston).headers["ETag"]
    change_texas_rate("6.75")
    run_schedule()

    changed = check(client, houston, etag)
    assert changed.status_code == 200 and len(changed.json["items"]) == 2
    first_page = check(client, houston, path=f"{API}/packages?status=available&limit=1")
    assert first_page.status_code == 200 and first_page.json["next"]
    page_etag = first_page.headers["ETag"]
    path = f"{API}/packages?status=available&limit=1"
    assert check(client, houston, page_etag, path).status_code == 304
    misspelt = check(client, houston, page_etag, f"{API}/packages?stauts=available")
    assert misspelt.status_code == 422 and "stauts" in misspelt.text
    assert check(client, houston, "*").status_code == 304


def test_the_lane_answers_with_the_app_s_headers_log_line_and_metrics(client, houston, caplog):
    etag = check(client, houston).headers["ETag"]
    labels = {"endpoint": "device_api.Packages", "method": "GET", "status": "304"}
    counted = REGISTRY.get_sample_value("hqportal_http_requests_total", labels) or 0
    caplog.set_level("INFO", logger="portal.request")

    unchanged = client.get(
        AVAILABLE, headers={**houston, "If-None-Match": etag, REQUEST_ID_HEADER: "poll-42"}
    )

    assert unchanged.status_code == 304
    assert unchanged.headers[REQUEST_ID_HEADER] == "poll-42"
    for name, value in SECURITY_HEADERS.items():
        assert unchanged.headers[name] == value
    assert REGISTRY.get_sample_value("hqportal_http_requests_total", labels) == counted + 1
    logged = [record for record in caplog.records if record.name == "portal.request"]
    assert logged[-1].getMessage() == f"GET {API}/packages 304"
    assert logged[-1].request_id == "poll-42"


def test_the_lane_writes_the_token_s_last_use_once_an_hour(client, houston):
    etag = check(client, houston).headers["ETag"]
    token = db.session.scalar(
        sa.select(DeviceToken).filter_by(channel_database_id=database_named("HOUSTON").id)
    )
    within_the_hour = token.last_used_at - LAST_USED_GRANULARITY + timedelta(minutes=5)
    token.last_used_at = within_the_hour
    db.session.commit()

    assert check(client, houston, etag).status_code == 304
    assert heartbeat(client, houston).status_code == 200
    db.session.refresh(token)
    assert token.last_used_at == within_the_hour

    token.last_used_at = within_the_hour - timedelta(minutes=10)
    db.session.commit()
    assert check(client, houston, etag).status_code == 304
    db.session.refresh(token)
    assert token.last_used_at > within_the_hour


def _sessions(name: str) -> list[DownloadSession]:
    return list(
        db.session.scalars(
            sa.select(DownloadSession).where(
                DownloadSession.channel_database_id == database_named(name).id,
                DownloadSession.package_id.is_not(None),
            )
        )
    )


def test_a_poll_the_database_fails_in_the_lane_is_answered_by_the_app_once(
    app, client, houston, caplog
):
    assert heartbeat(client, houston).status_code == 200
    with app.wsgi_app._connection() as connection:
        lane_backend = connection.connection.dbapi_connection.info.backend_pid
    db.session.execute(sa.select(sa.func.pg_terminate_backend(lane_backend)))
    db.session.commit()
    before = heartbeats_of("HOUSTON")

    answered = heartbeat(client, houston, pending_uploads=7)

    assert answered.status_code == 200, answered.text
    assert "The poll lane passed a request on to the app" in caplog.text
    assert heartbeats_of("HOUSTON") == before + 1
    assert status_of("HOUSTON")["pending_uploads"] == 7
    assert heartbeat(client, houston).status_code == 200
