"""Every device route called by the device of another store: it reads and changes nothing here.

The table below names what each route answers DALLAS-1's device when HOUSTON-1's objects are at
stake; a device route missing from it fails the walk, so a new route cannot skip the check.
"""

import json

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.device_api.models import DeviceStatus
from portal.transactions.models import PosTransaction
from tests.auditor.test_statements import statement
from tests.core.routes import is_device, row_counts
from tests.device_api.conftest import API, database_named, device_of, issue_code, sessions_of
from tests.factories import RegisterFactory
from tests.transactions.conftest import made

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")

# Method, rule -> status DALLAS-1's device gets when it aims at HOUSTON-1.
EXPECTED = {
    ("POST", f"{API}/activate"): 401,
    ("GET", f"{API}/config"): 200,
    ("GET", f"{API}/packages"): 200,
    ("GET", f"{API}/packages/<int:session_id>/content"): 404,
    ("POST", f"{API}/packages/<int:session_id>/status"): 404,
    ("POST", f"{API}/status"): 200,
    ("POST", f"{API}/transactions"): 200,
    ("POST", f"{API}/statements"): 403,
}


@pytest.fixture
def devices(client):
    """Headers of HOUSTON-1's and DALLAS-1's activated registers, first packages built."""
    for number in ("HOUSTON-1", "DALLAS-1"):
        RegisterFactory(
            register_number=number,
            store=number.split("-")[0],
            support_offline=True,
            activated=False,
        )
    return device_of(client, "HOUSTON-1"), device_of(client, "DALLAS-1")


def houston_facts() -> dict:
    """What HOUSTON-1's device has and has said, to compare before and after."""
    db.session.expire_all()
    database = database_named("HOUSTON-1")
    status = db.session.get(DeviceStatus, database.id)
    return {
        "sessions": [(s.id, s.status) for s in sessions_of("HOUSTON-1")],
        "status": None if status is None else (status.reported_at, status.mode),
        "sales": db.session.scalar(
            sa.select(sa.func.count())
            .select_from(PosTransaction)
            .where(PosTransaction.register.has(register_number="HOUSTON-1"))
        ),
    }


def test_another_stores_device_token_reaches_nothing_of_this_store(app, client, devices):
    houston, dallas = devices
    (session, *_) = sessions_of("HOUSTON-1")
    aimed = {
        f"{API}/activate": {"database": "HOUSTON-1", "activation_code": issue_code("DALLAS-1")},
        f"{API}/packages/<int:session_id>/status": {"status": "applied"},
        f"{API}/status": {"mode": "offline", "pending_uploads": 3},
        f"{API}/transactions": {"transactions": [made("HOUSTON-1")]},
        f"{API}/statements": statement("HOUSTON-1"),
    }
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if is_device(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert set(routes) == set(EXPECTED), "classify every device route in EXPECTED"
    before, counts = houston_facts(), row_counts(app)

    answers = {}
    for method, path in sorted(routes):
        url = path.replace("<int:session_id>", str(session.id))
        response = client.open(url, method=method, json=aimed.get(path), headers=dallas)
        assert response.status_code == EXPECTED[method, path], (method, url, response.text)
        answers[path] = response

    assert houston_facts() == before
    # The only rows written are DALLAS-1's own: its heartbeat and its refused upload.
    changed = {table for table, rows in row_counts(app).items() if rows != counts[table]}
    assert changed <= {"device_heartbeat", "device_status", "upload_session"}
    config = answers[f"{API}/config"].get_data(as_text=True)
    assert "HOUSTON" not in config and "DALLAS-1" in config
    listed = json.loads(answers[f"{API}/packages"].get_data(as_text=True))["items"]
    assert {item["id"] for item in listed}.isdisjoint(s.id for s in sessions_of("HOUSTON-1"))
    (result,) = answers[f"{API}/transactions"].json["results"]
    assert result["status"] == "rejected"
    assert result["errors"] == {"register": "This device uploads for register DALLAS-1 only."}
    # HOUSTON-1's own device still works after all that.
    assert client.get(f"{API}/packages", headers=houston).status_code == 200
