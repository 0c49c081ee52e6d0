"""HQ's device pages: the dashboard, device status, activation codes and token revocation."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api import credentials, fleet
from portal.device_api.models import ActivationCode, DeviceToken
from portal.transactions.models import UploadSession
from tests.conftest import PASSWORD, ROLES
from tests.device_api import fleet_setup as setup
from tests.factories import StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CODE = re.compile(r'id="activation-code" type="text" value="([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})"')


@pytest.fixture
def strict(app, database_uri):
    """A client of the portal with CSRF protection on, as in production."""
    strict_app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "WTF_CSRF_ENABLED": True,
            "PACKAGE_STORE": app.config["PACKAGE_STORE"],
        }
    )
    with strict_app.app_context():
        yield strict_app.test_client()
        db.session.remove()
        db.engine.dispose()
    # Creating an app makes its Celery the default one; give it back to the shared app.
    app.extensions["celery"].set_default()


def sign_in_with_csrf(client, email: str) -> None:
    """Sign in through the form, CSRF token included."""
    token = csrf_token(client, "/login")
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302


def csrf_token(client, path: str) -> str:
    """The CSRF token the forms of a page carry."""
    return CSRF_TOKEN.search(client.get(path).text).group(1)


def device_token(database) -> tuple[DeviceToken, str]:
    """Activate the database as its device would; the token and its secret."""
    _, code = credentials.issue_activation_code(database)
    token, secret, _ = credentials.activate(database.id, code)
    db.session.commit()
    return token, secret


def fresh(model, ident):
    """A row as committed by the requests, past this session's cache."""
    db.session.expire_all()
    return db.session.get(model, ident)


def stores_in_order(page: str) -> list[str]:
    """The store numbers of the dashboard's per-store table, top to bottom."""
    return re.findall(r'<tr data-store="([^"]+)"', page)


# The dashboard


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_dashboard_with_its_definitions(client, login, role):
    setup.offline_database()
    login(role)

    page = client.get("/devices/")

    assert page.status_code == 200
    assert 'aria-current="page"' in page.text and ">Devices</a>" in page.text
    assert "no heartbeat for more than\n      15 minutes" in page.text
    assert "more than 60 minutes since it was requested" in page.text
    assert '<div class="kpi">1</div>\n          <div class="text-body-secondary">Never' in page.text


def test_dashboard_counts_registers_per_state(client, login):
    store = StoreFactory(store_number="HOUSTON").store_number
    online, silent, late = (setup.offline_database(store, setup.minutes_ago(90)) for _ in "abc")
    setup.heartbeat(online, setup.minutes_ago(1))
    setup.heartbeat(silent, setup.minutes_ago(30))
    setup.heartbeat(late, setup.minutes_ago(1))
    setup.pending(late, setup.minutes_ago(61))
    setup.offline_database(store)
    login("auditor")

    page = client.get("/devices/").text

    totals = dict(
        re.findall(r'data-total="(\w+)">\s*<div class="card-body">\s*<div class="kpi">(\d+)', page)
    )
    assert totals == {
        "offline": "1",
        "behind": "1",
        "never_activated": "1",
        "online": "1",
        "total": "4",
    }
    row = page.split('<tr data-store="HOUSTON">')[1].split("</tr>")[0]
    assert re.findall(r">(\d+)<", row) == ["1", "1", "1", "1", "4"]
    assert "Store databases: 0 offline, 0 behind,\n    1 never activated" in page


def test_dashboard_lists_the_worst_stores_first_searches_and_pages(app, client, login, monkeypatch):
    for number in ("CALM", "BUSY", "WORST"):
        StoreFactory(store_number=number, name=f"{number.title()} store")
    setup.heartbeat(setup.offline_database("CALM", setup.minutes_ago(90)), setup.minutes_ago(1))
    setup.heartbeat(setup.offline_database("BUSY", setup.minutes_ago(90)), setup.minutes_ago(20))
    for _ in range(2):
        setup.offline_database("WORST", setup.minutes_ago(90))
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    login("scheduler")

    first = client.get("/devices/").text
    second = client.get("/devices/?page=2").text
    found = client.get("/devices/?q=busy").text

    assert stores_in_order(first) == ["WORST", "BUSY"]
    assert stores_in_order(second) == ["CALM"]
    assert stores_in_order(found) == ["BUSY"]
    assert "No store matches “nowhere”" in client.get("/devices/?q=nowhere").text


def test_dashboard_draws_the_samples_as_a_chart_with_a_table(client, login):
    setup.offline_database()
    for minutes in (20, 10, 0):
        fleet.take_sample(utcnow() - timedelta(minutes=minutes))
    fleet.take_sample(utcnow() - timedelta(days=3))
    db.session.commit()
    login("hq")

    day = client.get("/devices/").text
    week = client.get("/devices/?window=7d").text

    assert re.search(
        r'<svg [^>]*role="img"\s+aria-labelledby="fleet-chart-title fleet-chart-desc"', day
    )
    assert '<title id="fleet-chart-title">Registers per state, last 24 hours</title>' in day
    assert "3 samples. Latest: 0 offline, 0 behind, 1 never activated, 0 online." in day
    assert day.count("<polyline") == 4
    assert "<caption>Registers per state at each sample shown, newest first</caption>" in day
    assert "4 samples" in week
    assert 'aria-current="page"\n             href="/devices/?window=7d"' in week
    assert "<script" not in day.split("</main>")[0]


def test_dashboard_without_samples_says_how_they_come(client, login):
    login("hq")
    page = client.get("/devices/?window=bogus").text
    assert "No samples in this period yet" in page
    assert "<svg viewBox" not in page


# Device status on the channel database and register pages


def test_database_and_register_pages_show_the_device_status(client, login):
    database = setup.offline_database(activated_at=setup.minutes_ago(600), register_number="R-7")
    applied = setup.pending(database, setup.minutes_ago(300), status="applied", job="1040")
    setup.pending(database, setup.minutes_ago(130))
    setup.pending(database, setup.minutes_ago(20), status="apply_failed")
    setup.heartbeat(
        database,
        setup.minutes_ago(3),
        mode="offline",
        offline_since=setup.minutes_ago(45),
        pending_uploads=7,
        app_version="agent 0.9.1",
    )
    db.session.add(
        UploadSession(
            channel_database_id=database.id,
            request_sha256="0" * 64,
            status="applied",
            received_at=setup.minutes_ago(240),
            accepted=12,
        )
    )
    db.session.commit()
    login("auditor")

    for url in (f"/channel-databases/{database.id}", "/registers/R-7"):
        page = client.get(url).text
        assert '<span class="badge text-bg-danger">Offline</span>' in page, url
        assert "The device reports that it is working offline." in page
        assert "(3 min ago)" in page
        assert "Offline since" in page
        assert "agent 0.9.1" in page
        assert f'>{applied.id}</a>,\n    job <span class="mono">1040</span> (incremental)' in page
        assert (
            '2 <span class="text-body-secondary small">(the oldest requested 2 h 10 min ago)'
            in page
        )
        assert '7 <span class="text-body-secondary small">(as last reported)' in page
        assert "12 accepted" in page


def test_pages_show_what_the_device_says_to_help_a_store(client, login):
    database = setup.offline_database(activated_at=setup.minutes_ago(600), register_number="R-8")
    _, secret = device_token(database)
    beat = {
        "mode": "online",
        "mode_since": "2026-11-20T14:00:00Z",
        "pending_uploads": 3,
        "database_bytes": 48_200_000,
        "free_disk_bytes": 1_500_000_000,
        "last_error": "Cannot reach the portal: timed out",
        "sync_paused": True,
    }
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.post("/api/v1/device/status", json=beat, headers=headers).status_code == 200
    login("auditor")

    for url in (f"/channel-databases/{database.id}", "/registers/R-8"):
        page = client.get(url).text
        assert 'Online since <span class="text-nowrap">2026-11-20 14:00 UTC</span>' in page, url
        assert '<span class="badge text-bg-warning">Paused</span>' in page
        assert "the device downloads no packages" in page
        assert "48.2 MB" in page and "1.5 GB" in page
        assert "Cannot reach the portal: timed out" in page


def test_database_never_activated_says_so(client, login):
    database = setup.offline_database()
    login("hq")
    page = client.get(f"/channel-databases/{database.id}").text
    assert "No device has activated this database yet, so it receives no packages." in page
    assert "Generate activation code" in page


# Activation codes and device tokens


def test_generating_a_code_needs_the_csrf_token_and_shows_it_once(strict, make_user):
    database = setup.offline_database(register_number="HOUSTON-1")
    sign_in_with_csrf(strict, make_user("hq"))
    url = f"/channel-databases/{database.id}/activation-code"

    refused = strict.post(url)
    assert refused.status_code == 400 and "CSRF" in refused.text
    assert db.session.scalar(sa.select(sa.func.count(ActivationCode.id))) == 0

    answer = strict.post(
        url, data={"csrf_token": csrf_token(strict, f"/channel-databases/{database.id}")}
    )

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    code = CODE.search(answer.text).group(1)
    assert "shown only this once" in answer.text
    assert (
        f"portal-agent --url http://localhost activate --database HOUSTON-1 --code {code}"
        in answer.text
    )
    (activation,) = db.session.scalars(sa.select(ActivationCode)).all()
    assert activation.expires_at.strftime("%Y-%m-%d %H:%M UTC") in answer.text
    assert code not in strict.get(f"/channel-databases/{database.id}").text
    # The code shown is the one that works.
    token, _, _ = credentials.activate("HOUSTON-1", code)
    assert token.channel_database_id == database.id


def test_revoking_a_token_asks_first_and_needs_the_csrf_token(strict, make_user):
    database = setup.offline_database()
    token, _ = device_token(database)
    sign_in_with_csrf(strict, make_user("admin"))
    listing = strict.get(f"/channel-databases/{database.id}").text
    url = f"/channel-databases/{database.id}/device-tokens/{token.id}/revoke"
    assert f'href="{url}">Revoke' in listing

    confirm = strict.get(url)
    refused = strict.post(url)
    assert fresh(DeviceToken, token.id).revoked_at is None
    done = strict.post(url, data={"csrf_token": CSRF_TOKEN.search(confirm.text).group(1)})

    assert (
        confirm.status_code == 200
        and f'Revoke device token <span class="mono">{token.prefix}…' in confirm.text
    )
    assert refused.status_code == 400
    assert done.status_code == 302 and done.location.endswith(f"/channel-databases/{database.id}")
    revoked = fresh(DeviceToken, token.id)
    assert revoked.revoked_at is not None and revoked.revoked_by.startswith("admin-")
    page = strict.get(done.location).text
    assert "is revoked." in page and '<span class="badge text-bg-secondary">revoked</span>' in page
    assert f'href="{url}"' not in page
    assert "It was already revoked" in strict.get(url).text


@pytest.mark.parametrize("role", ["scheduler", "auditor"])
def test_readers_see_the_tokens_but_cannot_act_on_them(client, login, role):
    database = setup.offline_database()
    token, _ = device_token(database)
    login(role)

    page = client.get(f"/channel-databases/{database.id}").text
    code = client.post(f"/channel-databases/{database.id}/activation-code")
    revoke = client.post(f"/channel-databases/{database.id}/device-tokens/{token.id}/revoke")

    assert token.prefix in page
    assert "Generate activation code" not in page and "/revoke" not in page
    assert (code.status_code, revoke.status_code) == (403, 403)
    assert fresh(DeviceToken, token.id).revoked_at is None


def test_an_inactive_database_gets_no_code(client, login):
    database = setup.offline_database()
    database.active = False
    db.session.commit()
    login("hq")

    answer = client.post(f"/channel-databases/{database.id}/activation-code", follow_redirects=True)

    assert "is inactive; activate it at HQ first." in answer.text
    assert "An inactive database cannot be activated" in answer.text
    assert db.session.scalar(sa.select(sa.func.count(ActivationCode.id))) == 0


def test_a_token_is_revoked_only_through_its_own_database(client, login):
    mine, other = setup.offline_database(), setup.offline_database()
    token, _ = device_token(mine)
    login("hq")

    answer = client.post(f"/channel-databases/{other.id}/device-tokens/{token.id}/revoke")

    assert answer.status_code == 404
    assert fresh(DeviceToken, token.id).revoked_at is None
