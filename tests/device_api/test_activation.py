"""Activation codes issued at HQ, traded by devices for device tokens exactly once."""

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api import credentials
from portal.device_api.models import ActivationCode, DeviceToken
from portal.distribution.models import DistributionRun
from tests.device_api.conftest import (
    API,
    activate,
    bearer,
    database_named,
    issue_code,
    sessions_of,
)
from tests.distribution.conftest import build_run, run_schedule
from tests.factories import RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")


@pytest.fixture
def offline_register(app_ctx, stores_group):
    """HOUSTON-1, an offline register of HOUSTON whose device never activated."""
    return RegisterFactory(
        register_number="HOUSTON-1", store="HOUSTON", support_offline=True, activated=False
    )


def activation_url(name: str) -> str:
    return f"/api/v1/channel-databases/{database_named(name).id}/activation-code"


def post_activate(client, body, **kwargs):
    return client.post(f"{API}/activate", json=body, **kwargs)


def error(response, status: int) -> dict:
    """The API error body of a refused request, checked for its status and shape."""
    assert response.status_code == status, response.text
    assert set(response.json["error"]) == {"code", "message", "fields"}
    return response.json["error"]


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- HQ issues codes -------------------------------------------------------------------------


def test_hq_issues_a_code_shown_once_and_valid_for_a_day(client, token_for, offline_register):
    response = client.post(activation_url("HOUSTON-1"), headers=token_for("hq"))

    assert response.status_code == 201, response.text
    body = response.json
    assert body["channel_database"] == database_named("HOUSTON-1").id
    assert body["name"] == "HOUSTON-1"
    code = body["activation_code"]
    assert len(code) == 14 and code.count("-") == 2
    stored = db.session.scalar(sa.select(ActivationCode))
    assert code.replace("-", "") not in stored.code_hash  # only its hash is kept
    expires = stored.expires_at
    assert timedelta(hours=23) < expires - utcnow() <= timedelta(hours=24)
    assert body["expires_at"] == expires.isoformat()
    entry = db.session.scalar(sa.select(AuditEntry).filter_by(entity_type="activation_code"))
    assert entry.action == "issue" and entry.entity_key == "HOUSTON-1"


def test_a_new_code_ends_the_earlier_unused_one(client, offline_register):
    first = issue_code("HOUSTON-1")
    second = issue_code("HOUSTON-1")

    refused = post_activate(client, {"database": "HOUSTON-1", "activation_code": first})
    assert "expired" in error(refused, 409)["message"]
    accepted = post_activate(client, {"database": "HOUSTON-1", "activation_code": second})
    assert accepted.status_code == 201


@pytest.mark.parametrize(
    ("send", "status", "field"),
    [
        ({"json": {"lifetime": 5}}, 422, "lifetime"),
        ({"data": "{", "content_type": "application/json"}, 400, "json"),
    ],
    ids=["unknown-field", "malformed-json"],
)
def test_issuing_refuses_a_bad_body(client, token_for, offline_register, send, status, field):
    response = client.post(activation_url("HOUSTON-1"), headers=token_for("admin"), **send)
    assert field in error(response, status)["fields"]
    assert count(ActivationCode) == 0


def test_issuing_for_an_unknown_or_inactive_database_is_refused(client, token_for):
    hq = token_for("hq")
    missing = client.post("/api/v1/channel-databases/999999/activation-code", headers=hq)
    assert error(missing, 404)["code"] == "not_found"

    database_named("DALLAS").active = False
    db.session.commit()
    inactive = client.post(activation_url("DALLAS"), headers=hq)
    assert "inactive" in error(inactive, 409)["message"]
    assert count(ActivationCode) == 0


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_roles_that_may_not_change_setup_get_no_code(client, token_for, role):
    response = client.post(activation_url("HOUSTON"), headers=token_for(role))
    assert error(response, 403)["code"] == "forbidden"
    assert count(ActivationCode) == 0


def test_the_command_line_prints_a_code_the_device_can_use(app, client, offline_register):
    result = app.test_cli_runner().invoke(args=["portal", "activation-code", "houston-1"])

    assert result.exit_code == 0, result.output
    code = result.stdout.strip()
    assert "Valid until" in result.stderr
    answer = client.post(f"{API}/activate", json={"database": "HOUSTON-1", "activation_code": code})
    assert answer.status_code == 201, answer.text
    entry = db.session.scalar(sa.select(AuditEntry).filter_by(entity_type="activation_code"))
    assert entry.actor == "cli"


def test_the_command_line_refuses_an_unknown_database(app):
    result = app.test_cli_runner().invoke(args=["portal", "activation-code", "NOWHERE-9"])

    assert result.exit_code != 0
    assert "No channel database is called or numbered 'NOWHERE-9'." in result.stderr
    assert count(ActivationCode) == 0


# --- Devices activate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "name", "kind", "register"),
    [
        ("HOUSTON-1", "HOUSTON-1", "offline", "HOUSTON-1"),
        ("houston-1", "HOUSTON-1", "offline", "HOUSTON-1"),
        ("HOUSTON", "HOUSTON", "channel", None),
        ("id", "HOUSTON-1", "offline", "HOUSTON-1"),
        ("id-text", "HOUSTON", "channel", None),
    ],
)
def test_device_activates_by_register_store_name_or_id(
    client, offline_register, ref, name, kind, register
):
    database = database_named(name)
    ref = {"id": database.id, "id-text": str(database.id)}.get(ref, ref)
    code = issue_code(name)

    response = post_activate(client, {"database": ref, "activation_code": code.lower()})

    assert response.status_code == 201, response.text
    token = response.json["device_token"]
    assert token.startswith("hqd_")
    assert response.json["channel_database"] == {
        "id": database.id,
        "name": name,
        "kind": kind,
        "store": "HOUSTON",
        "register": register,
    }
    stored = db.session.scalar(sa.select(DeviceToken))
    assert stored.channel_database_id == database.id and token not in stored.token_hash
    config = client.get(f"{API}/config", headers=bearer(token))
    assert config.status_code == 200 and config.json["channel_database"]["name"] == name
    entry = db.session.scalar(sa.select(AuditEntry).filter_by(action="activate"))
    assert entry.entity_key == name and entry.actor == "device at 127.0.0.1"


def test_store_numbers_made_of_digits_are_not_taken_for_ids(client):
    StoreFactory(store_number="1001", channel_data_group="Stores")
    code = issue_code("1001")

    response = post_activate(client, {"database": "1001", "activation_code": code})

    assert response.status_code == 201, response.text
    assert response.json["channel_database"]["store"] == "1001"


@pytest.mark.parametrize(
    "database", ["NOWHERE", 999999, "999999", "9" * 30], ids=["name", "id", "id-text", "huge-id"]
)
def test_unknown_database_is_401(client, offline_register, database):
    code = issue_code("HOUSTON-1")
    response = post_activate(client, {"database": database, "activation_code": code})
    assert error(response, 401)["code"] == "unauthorized"
    assert count(DeviceToken) == 0


def test_wrong_code_and_another_databases_code_are_401(client, offline_register):
    dallas_code = issue_code("DALLAS")
    issue_code("HOUSTON-1")

    wrong = post_activate(client, {"database": "HOUSTON-1", "activation_code": "AAAA-BBBB-CCCC"})
    borrowed = post_activate(client, {"database": "HOUSTON-1", "activation_code": dallas_code})

    assert "wrong" in error(wrong, 401)["message"]
    assert "wrong" in error(borrowed, 401)["message"]
    assert count(DeviceToken) == 0


def test_used_code_is_409(client, offline_register):
    code = issue_code("HOUSTON-1")
    body = {"database": "HOUSTON-1", "activation_code": code}
    assert post_activate(client, body).status_code == 201

    again = post_activate(client, body)

    assert "already used" in error(again, 409)["message"]
    assert count(DeviceToken) == 1


def test_expired_code_is_409(client, offline_register):
    code = issue_code("HOUSTON-1")
    db.session.scalar(sa.select(ActivationCode)).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    response = post_activate(client, {"database": "HOUSTON-1", "activation_code": code})

    assert "expired" in error(response, 409)["message"]
    assert count(DeviceToken) == 0


def test_inactive_database_is_409(client, offline_register):
    code = issue_code("HOUSTON-1")
    database_named("HOUSTON-1").active = False
    db.session.commit()

    response = post_activate(client, {"database": "HOUSTON-1", "activation_code": code})

    assert "inactive" in error(response, 409)["message"]
    assert count(DeviceToken) == 0
    assert db.session.scalar(sa.select(ActivationCode)).used_at is None


@pytest.mark.parametrize(
    ("send", "status", "fields"),
    [
        ({"json": {}}, 422, {"database", "activation_code"}),
        ({"json": {"database": "HOUSTON-1"}}, 422, {"activation_code"}),
        ({"json": {"activation_code": "X"}}, 422, {"database"}),
        ({"json": {"database": "HOUSTON-1", "activation_code": "X", "pin": 1}}, 422, {"pin"}),
        ({"json": {"database": True, "activation_code": "X"}}, 422, {"database"}),
        ({"json": {"database": ["HOUSTON"], "activation_code": "X"}}, 422, {"database"}),
        ({"json": {"database": " ", "activation_code": "X"}}, 422, {"database"}),
        ({"json": {"database": -3, "activation_code": "X"}}, 422, {"database"}),
        ({"json": {"database": 2**40, "activation_code": "X"}}, 422, {"database"}),
        ({"json": {"database": "HOUSTON-1", "activation_code": ""}}, 422, {"activation_code"}),
        ({"json": {"database": "HOUSTON-1", "activation_code": 42}}, 422, {"activation_code"}),
        ({"data": '{"database": ', "content_type": "application/json"}, 400, {"json"}),
        ({"json": ["HOUSTON-1"]}, 422, None),
    ],
    ids=[
        "empty",
        "no-code",
        "no-database",
        "unknown-field",
        "bool-database",
        "list-database",
        "blank-database",
        "negative-id",
        "huge-id",
        "empty-code",
        "number-code",
        "malformed-json",
        "not-an-object",
    ],
)
def test_bad_activation_requests_are_refused_naming_the_field(
    client, offline_register, send, status, fields
):
    issue_code("HOUSTON-1")
    response = client.post(f"{API}/activate", **send)
    found = error(response, status)["fields"]
    if fields is not None:
        assert set(found) == fields
    assert count(DeviceToken) == 0


# --- What activation changes -----------------------------------------------------------------


def test_reactivation_revokes_the_earlier_token(client, offline_register):
    first, _ = activate(client, "HOUSTON-1")
    assert client.get(f"{API}/config", headers=first).status_code == 200

    second, _ = activate(client, "HOUSTON-1")

    refused = client.get(f"{API}/config", headers=first)
    assert "revoked" in error(refused, 401)["message"]
    assert client.get(f"{API}/config", headers=second).status_code == 200
    tokens = db.session.scalars(sa.select(DeviceToken).order_by(DeviceToken.id)).all()
    assert [t.revoked_by for t in tokens] == ["activation", None]


def test_revoked_token_and_inactive_database_are_401(client, offline_register):
    headers, _ = activate(client, "HOUSTON-1")
    database = database_named("HOUSTON-1")
    credentials.revoke(credentials.active_tokens(database)[0], by="hq@example.com")
    db.session.commit()
    assert error(client.get(f"{API}/config", headers=headers), 401)["code"] == "unauthorized"

    headers, _ = activate(client, "HOUSTON-1")
    database_named("HOUSTON-1").active = False
    db.session.commit()
    assert error(client.get(f"{API}/packages", headers=headers), 401)["code"] == "unauthorized"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic eDp5"}, bearer("hqd_not-a-token"), bearer("")],
    ids=["none", "other-scheme", "unknown", "empty"],
)
def test_device_endpoints_refuse_calls_without_a_device_token(client, headers):
    for response in (
        client.get(f"{API}/config", headers=headers),
        client.get(f"{API}/packages", headers=headers),
        client.get(f"{API}/packages/1/content", headers=headers),
        client.post(f"{API}/packages/1/status", json={"status": "applied"}, headers=headers),
        client.post(f"{API}/status", json={"mode": "online"}, headers=headers),
    ):
        assert error(response, 401)["code"] == "unauthorized"


def test_an_hq_api_token_opens_no_device_endpoint(client, token_for):
    response = client.get(f"{API}/config", headers=token_for("admin"))
    assert error(response, 401)["code"] == "unauthorized"


def test_never_activated_offline_database_gets_nothing_until_activation_brings_a_full_package(
    client, offline_register, task_queue
):
    before = run_schedule()
    assert sessions_of("HOUSTON-1") == []
    assert before.sessions_total == 3  # the three stores only

    _, body = activate(client, "HOUSTON-1")

    runs = db.session.scalars(
        sa.select(DistributionRun).where(DistributionRun.id != before.id)
    ).all()
    assert len(runs) == 1
    run = runs[0]
    assert run.channel_database_id == body["channel_database"]["id"] and run.full_sync
    assert run.requested_by == "device at 127.0.0.1"
    assert task_queue.tasks() == [("distribution.start_run", [run.id])]
    build_run(run.id)
    sessions = sessions_of("HOUSTON-1")
    assert [(s.kind, s.status, s.job_number) for s in sessions] == [("full", "available", "1080")]
    assert {s.channel_database.name for s in sessions_of("HOUSTON")} == {"HOUSTON"}

    # Activating again (a replaced device) asks for nothing more: the database has its data.
    activate(client, "HOUSTON-1")
    assert len(task_queue.tasks()) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRun)) == 2


def test_activation_with_the_task_queue_down_still_succeeds_and_the_run_waits(
    client, offline_register, task_queue
):
    task_queue.go_down()

    activate(client, "HOUSTON-1")

    run = db.session.scalar(sa.select(DistributionRun))
    assert run.status == "waiting" and "unreachable" in run.message


@pytest.mark.usefixtures("offline_register")
def test_activation_is_rate_limited_per_client_address(client):
    code = issue_code("HOUSTON-1")
    wrong = {"database": "HOUSTON-1", "activation_code": "WRONG-CODE-0000"}

    answers = [post_activate(client, wrong).status_code for _ in range(10)]
    limited = post_activate(client, {"database": "HOUSTON-1", "activation_code": code})

    assert answers == [401] * 10
    assert "Too many activation attempts" in error(limited, 429)["message"]
    assert count(DeviceToken) == 0
    elsewhere = post_activate(
        client,
        {"database": "HOUSTON-1", "activation_code": code},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert elsewhere.status_code == 201


# --- Two devices, one code -------------------------------------------------------------------


@pytest.mark.usefixtures("offline_register")
def test_one_code_used_by_two_devices_at_once_gives_exactly_one_token(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL's row locks and concurrent writers")
    code = issue_code("HOUSTON-1")
    body = {"database": "HOUSTON-1", "activation_code": code}
    answers: list[int] = []

    def device():
        with app.test_client() as own_client:
            answers.append(own_client.post(f"{API}/activate", json=body).status_code)

    # Hold the code's row so both devices read it unused and then queue on claiming it.
    with db.engine.connect() as holder:
        holder.execute(
            sa.select(ActivationCode).where(ActivationCode.used_at.is_(None)).with_for_update()
        )
        threads = [threading.Thread(target=device) for _ in range(2)]
        for thread in threads:
            thread.start()
        _wait_for_lock_waiters(holder, 2)
        holder.rollback()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [201, 409]
    assert count(DeviceToken) == 1
    assert db.session.scalar(sa.select(ActivationCode)).used_at is not None


def _wait_for_lock_waiters(connection, expected: int) -> None:
    deadline = time.monotonic() + 20
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        with db.engine.connect() as probe:
            if probe.scalar(query) >= expected:
                return
        time.sleep(0.05)
    raise AssertionError(f"{expected} requests never queued on the activation code")
