"""Every list of the auditor workspace downloads as CSV with `?format=csv`, with its filters."""

import csv
import io

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.transactions.models import UploadSession
from tests.transactions.auditor_setup import ago, local, sold, upload

pytestmark = pytest.mark.usefixtures("stores")

# The auditor workspace's pages; the dashboard is charts and counts, not a list.
WORKSPACE_BLUEPRINTS = ("transactions", "anomalies")
NOT_LISTS = {"anomalies.dashboard"}


def table(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_upload_sessions_download_as_csv_with_their_filters(client, login):
    good = sold("HOUSTON-1", 1, created_at=local(ago(minutes=5)))
    bad = sold("HOUSTON-1", 2, created_at=local(ago(minutes=4)), total="1.00")
    upload("HOUSTON-1", good, bad)
    upload("DALLAS-1", sold("DALLAS-1", 1, created_at=local(ago(minutes=3))))
    houston, dallas = db.session.scalars(sa.select(UploadSession).order_by(UploadSession.id))
    login("auditor")

    everything = client.get("/upload-sessions/?format=csv")
    rows = table(everything)
    houston_only = table(client.get("/upload-sessions/?format=csv&store=houston"))

    assert everything.status_code == 200
    assert everything.mimetype == "text/csv"
    assert "attachment" in everything.headers["Content-Disposition"]
    assert [int(row["id"]) for row in rows] == [dallas.id, houston.id]
    assert rows[1] | {"received_at_utc": "", "finished_at_utc": ""} == {
        "id": str(houston.id),
        "received_at_utc": "",
        "finished_at_utc": "",
        "channel_database": "HOUSTON-1",
        "store": "HOUSTON",
        "status": houston.status,
        "transactions": "2",
        "accepted": "1",
        "duplicates": "0",
        "rejected": "1",
        "conflicts": "0",
        "message": houston.message,
    }
    assert rows[1]["received_at_utc"] == houston.received_at.isoformat()
    assert [int(row["id"]) for row in houston_only] == [houston.id]


def test_the_upload_sessions_page_offers_the_download(client, login):
    login("auditor")
    page = client.get("/upload-sessions/?store=houston")
    assert 'href="/upload-sessions/?store=houston&amp;format=csv"' in page.text


def test_every_workspace_list_answers_csv(app, client, login):
    login("auditor")
    lists = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in WORKSPACE_BLUEPRINTS
        and rule.endpoint not in NOT_LISTS
        and "GET" in rule.methods
        and not rule.arguments
    )

    answers = {}
    for url in lists:
        response = client.get(f"{url}?format=csv")
        answers[url] = response.mimetype
        response.close()

    assert "/upload-sessions/" in answers
    assert answers == dict.fromkeys(lists, "text/csv")
