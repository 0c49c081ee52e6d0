"""The auditor workspace: anomaly list and review, the dashboard's charts, the store summary."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.auditor.models import Anomaly, Review
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.setup.models import Store
from portal.transactions.models import PosTransaction
from tests.transactions.auditor_setup import ago, anomaly, local, priced, sold, stored, upload
from tests.transactions.conftest import stores  # noqa: F401  (the shared stores fixture)

pytestmark = pytest.mark.usefixtures("stores")

CHART_DATA = re.compile(r'<script type="application/json" id="auditor-chart-data">(.*?)</script>')


def listed(page: str) -> list[int]:
    """The ids of the anomalies listed, in order."""
    return [int(n) for n in re.findall(r'<tr data-anomaly="(\d+)"', page)]


def link(page: str, label: str) -> str | None:
    """The URL of the link with this text."""
    found = re.search(rf'href="([^"]*)"[^>]*>{label}</a>', page)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def findings(stores):  # noqa: F811
    """Anomalies of a HOUSTON and a DALLAS sale: one cleared, one already reviewed."""
    houston = sold("HOUSTON-1", 1, created_at=local(ago(hours=2)))
    dallas = sold("DALLAS-1", 1, created_at=local(ago(hours=1)))
    upload("HOUSTON-1", houston)
    upload("DALLAS-1", dallas)
    h, d = stored(houston["transaction_id"]), stored(dallas["transaction_id"])
    return [
        anomaly(h, "sequence_gap", "Sequence 2 missing", detected_at=ago(minutes=30)),
        anomaly(h, "price_override", "Price typed in", detected_at=ago(minutes=20)),
        anomaly(d, "long_offline", "Offline 9 h", detected_at=ago(minutes=10), cleared_at=utcnow()),
        anomaly(d, "price_override", "Price typed in", review_status="reviewed"),
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, [3, 2, 1, 0]),
        ({"kind": "price_override"}, [3, 1]),
        ({"store": "HOUSTON"}, [1, 0]),
        ({"register": "dallas-1"}, [3, 2]),
        ({"review_status": "open"}, [2, 1, 0]),
        ({"cleared": "yes"}, [2]),
        ({"cleared": "no"}, [3, 1, 0]),
    ],
)
def test_list_filters_newest_first(client, login, findings, args, expected):
    login("hq")
    page = client.get("/anomalies/", query_string=args)
    assert page.status_code == 200
    assert listed(page.text) == [findings[i].id for i in expected]


def test_list_links_each_transaction_and_pages_by_cursor(client, login, findings, app, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 3)
    login("auditor")
    first = client.get("/anomalies/")
    assert f'href="/transactions/{findings[3].pos_transaction_id}"' in first.text
    assert len(listed(first.text)) == 3
    older = client.get(link(first.text, "Older"))
    assert listed(older.text) == [findings[0].id]
    assert link(older.text, "Older") is None
    assert listed(client.get(link(older.text, "Newer")).text) == listed(first.text)


def test_auditor_reviews_an_anomaly(client, login, findings):
    email = login("auditor")
    url = f"/anomalies/{findings[1].id}/review"
    form = client.get(url)
    assert form.status_code == 200 and "Price typed in" in form.text
    refused = client.post(url, data={"status": "resolved"})
    assert refused.status_code == 422 and "Say why it is resolved." in refused.text

    done = client.post(url, data={"status": "resolved", "comment": "Manager approved"})
    assert done.status_code == 302
    assert "is marked resolved" in client.get(done.location).text
    db.session.expire_all()
    assert db.session.get(Anomaly, findings[1].id).review_status == "resolved"
    review = db.session.scalar(sa.select(Review))
    assert (review.subject, review.status, review.actor) == ("anomaly", "resolved", email)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "review"))
    assert (entry.entity_type, entry.entity_key) == ("anomaly", str(findings[1].id))
    assert "Manager approved" in client.get(url).text  # the history under the form


@pytest.mark.parametrize("role", ["hq", "scheduler"])
def test_only_reviewers_see_or_post_the_review_form(client, login, findings, role):
    login(role)
    url = f"/anomalies/{findings[0].id}/review"
    assert client.get(url).status_code == 403
    assert client.post(url, data={"status": "reviewed"}).status_code == 403
    if role == "hq":
        assert client.get("/anomalies/").status_code == 200
        assert "Review</a>" not in client.get("/anomalies/").text
    else:
        assert client.get("/anomalies/").status_code == 403
        assert client.get("/auditor/").status_code == 403


def test_anomalies_export_as_streamed_csv(client, login, findings):
    login("auditor")
    response = client.get("/anomalies/?format=csv&kind=price_override")
    assert response.is_streamed
    assert response.headers["Content-Disposition"].startswith("attachment;")
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(row["id"]) for row in table] == [findings[3].id, findings[1].id]
    assert table[0]["store"] == "DALLAS" and table[0]["review_status"] == "reviewed"


def test_dashboard_counts_open_anomalies_and_feeds_three_charts(client, login, stores):  # noqa: F811
    now = utcnow()
    # Offline sales on two days in two stores, one online sale that does not count.
    upload(
        "HOUSTON-1",
        sold("HOUSTON-1", 1, created_at=local(now - timedelta(days=2))),
        sold("HOUSTON-1", 2, created_at=local(now - timedelta(days=2, minutes=1))),
        sold("HOUSTON-1", 3, created_at=local(now - timedelta(minutes=5))),
        sold("HOUSTON-1", 4, created_at=local(now - timedelta(seconds=20)), offline=False),
    )
    upload("DALLAS-1", sold("DALLAS-1", 1, created_at=local(now - timedelta(hours=3))))
    sale_row = db.session.scalar(sa.select(PosTransaction).limit(1))
    anomaly(sale_row, "long_offline")
    anomaly(sale_row, "long_offline", review_status="flagged")
    anomaly(sale_row, "receipt_reused")
    login("auditor")

    page = client.get("/auditor/")
    assert page.status_code == 200
    assert "Open anomalies: 2" in page.text
    figures = json.loads(CHART_DATA.search(page.text).group(1))
    assert set(figures) == {"offline_sales", "anomalies", "upload_delay"}

    offline = figures["offline_sales"]
    assert len(offline["labels"]) == 30 and offline["labels"][-1] == now.date().isoformat()
    per_store = {d["label"]: d["data"] for d in offline["datasets"]}
    assert sum(per_store["HOUSTON"]) == 3 and sum(per_store["DALLAS"]) == 1
    two_days_ago = offline["labels"].index((now - timedelta(days=2)).date().isoformat())
    assert per_store["HOUSTON"][two_days_ago] >= 1

    kinds = figures["anomalies"]
    index = kinds["labels"].index("long offline")
    assert kinds["datasets"][0]["data"][index] == 1  # open
    assert kinds["datasets"][1]["data"][index] == 1  # answered

    delays = figures["upload_delay"]
    assert delays["labels"][0] == "under 1 min" and delays["labels"][-1] == "over 1 day"
    counts = dict(zip(delays["labels"], delays["datasets"][0]["data"], strict=True))
    assert counts == {
        "under 1 min": 1,
        "1–10 min": 1,
        "10–60 min": 0,
        "1–6 h": 1,
        "6–24 h": 0,
        "over 1 day": 2,
    }
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in page.text
    script = client.get("/static/vendor/chartjs/chart.umd.min.js")
    script.close()
    assert script.status_code == 200


def test_store_summary_for_a_period_and_its_csv(client, login, stores):  # noqa: F811
    upload(
        "HOUSTON-1",
        sold("HOUSTON-1", 1, created_at="2026-11-02T10:00:00+00:00"),
        sold("HOUSTON-1", 2, created_at="2026-11-02T11:00:00+00:00", offline=False),
        sold("HOUSTON-1", 3, created_at="2026-11-09T11:00:00+00:00", **priced("100")),
    )
    upload(
        "DALLAS-1", sold("DALLAS-1", 1, created_at="2026-11-02T09:00:00+00:00", **priced("0.0005"))
    )
    first = db.session.scalar(sa.select(PosTransaction).order_by(PosTransaction.id))
    anomaly(first, "price_override", detected_at=utcnow().replace(year=2026, month=11, day=2))
    login("hq")

    page = client.get("/auditor/stores?date_from=2026-11-01&date_to=2026-11-05")
    assert page.status_code == 200
    houston = re.search(r'<tr data-store="HOUSTON">(.*?)</tr>', page.text, re.S).group(1)
    cells = re.findall(r'<td class="text-end[^"]*">(.*?)</td>', houston)
    assert cells[:4] == ["2", "$23.96", "1", "50.0 %"]
    assert ">1</a>" in cells[4]
    # Dollars of two countries are never added up: one total per currency.
    db.session.execute(sa.update(Store).filter_by(store_number="DALLAS").values(currency="CAD"))
    db.session.commit()
    page = client.get("/auditor/stores?date_from=2026-11-01&date_to=2026-11-05")
    usd = re.search(r'<tr data-total-currency="USD">(.*?)</tr>', page.text, re.S).group(1)
    cad = re.search(r'<tr data-total-currency="CAD">(.*?)</tr>', page.text, re.S).group(1)
    assert "$23.96" in usd and "CA$0.0005" in cad

    response = client.get("/auditor/stores?date_from=2026-11-01&date_to=2026-11-05&format=csv")
    assert response.is_streamed
    table = {row["store"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert table["HOUSTON"]["value"] == "23.96" and table["HOUSTON"]["anomalies"] == "1"
    assert table["DALLAS"]["value"] == "0.0005"
    assert table["DALLAS"]["offline_share_percent"] == "100.0"
    everything = client.get("/auditor/stores?date_from=2026-11-01&format=csv")
    totals = {row["store"]: row for row in csv.DictReader(io.StringIO(everything.text))}
    assert totals["HOUSTON"]["transactions"] == "3" and totals["HOUSTON"]["value"] == "123.96"


def test_store_summary_defaults_to_the_last_30_days(client, login, stores):  # noqa: F811
    upload("HOUSTON-1", sold("HOUSTON-1", 1, created_at=local(ago(days=40))))
    upload("HOUSTON-1", sold("HOUSTON-1", 2, created_at=local(ago(days=2))))
    login("auditor")
    page = client.get("/auditor/stores")
    today = utcnow().date()
    assert f'value="{(today - timedelta(days=29)).isoformat()}"' in page.text
    assert f'value="{today.isoformat()}"' in page.text
    houston = re.search(r'<tr data-store="HOUSTON">(.*?)</tr>', page.text, re.S).group(1)
    assert re.findall(r'<td class="text-end[^"]*">(.*?)</td>', houston)[0] == "1"
