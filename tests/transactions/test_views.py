"""The auditor's transaction pages: list and filters, cursor pages, detail, review and CSV."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.auditor.models import Review
from portal.core.extensions import db
from portal.transactions.models import UploadSession
from tests.transactions.auditor_setup import ago, anomaly, local, priced, sold, stored, upload

pytestmark = pytest.mark.usefixtures("stores")


def link(page: str, label: str) -> str | None:
    """The URL of the link with this text, HTML entities undone."""
    found = re.search(rf'href="([^"]*)"[^>]*>{label}</a>', page)
    return found.group(1).replace("&amp;", "&") if found else None


def rows(page: str) -> list[int]:
    """The ids of the transactions listed, in order."""
    return [int(n) for n in re.findall(r'data-transaction="(\d+)"', page)]


@pytest.fixture
def three(stores):
    """Three sales: an offline one in HOUSTON, an online one, and a big one in DALLAS."""
    first = sold("HOUSTON-1", 1, created_at=local(ago(hours=3)), staff="000160")
    second = sold("HOUSTON-2", 1, created_at=local(ago(hours=2)), offline=False, staff="000170")
    third = sold("DALLAS-1", 1, created_at=local(ago(hours=1)), **priced("250.0050"))
    upload("HOUSTON-1", first)
    upload("HOUSTON-2", second)
    upload("DALLAS-1", third)
    return [stored(s["transaction_id"]) for s in (first, second, third)]


def test_list_shows_newest_first_with_register_time_and_totals(client, login, three):
    login("auditor")
    page = client.get("/transactions/")
    assert page.status_code == 200
    assert rows(page.text) == [three[2].id, three[1].id, three[0].id]
    assert "250.005" in page.text and "11.98" in page.text
    # The register's own clock: UTC-6 as it sent the time.
    assert "(UTC-06:00)" in page.text
    assert "HOUSTON-1-000001" in page.text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"store": "houston"}, [1, 0]),
        ({"register": "DALLAS-1"}, [2]),
        ({"offline": "online"}, [1]),
        ({"offline": "offline"}, [2, 0]),
        ({"staff": "000170"}, [1]),
        ({"min_total": "100"}, [2]),
        ({"max_total": "11.98"}, [1, 0]),
        ({"review_status": "flagged"}, []),
        ({"kind": "sale"}, [2, 1, 0]),
        ({"anomaly": "price_override"}, [0]),
        ({"q": "houston-2-0000"}, [1]),
        ({"q": "dallas"}, [2]),
        ({"q": "NOWHERE"}, []),
    ],
)
def test_filters_narrow_the_list(client, login, three, args, expected):
    anomaly(three[0], "price_override")
    login("hq")
    page = client.get("/transactions/", query_string=args)
    assert page.status_code == 200
    assert rows(page.text) == [three[i].id for i in expected]


def test_a_sale_is_found_by_the_start_of_its_transaction_id(client, login, three):
    login("auditor")
    start = three[1].transaction_id[:8].upper()
    page = client.get("/transactions/", query_string={"q": start})
    assert rows(page.text) == [three[1].id]
    assert f'value="{start}"' in page.text


def test_date_range_filters_by_the_day_the_register_made_the_sale(client, login, stores):
    old = sold("HOUSTON-1", 1, created_at="2026-11-01T10:00:00+00:00")
    new = sold("HOUSTON-1", 2, created_at="2026-11-03T10:00:00+00:00")
    upload("HOUSTON-1", old, new)
    login("auditor")
    page = client.get("/transactions/?date_from=2026-11-02&date_to=2026-11-03")
    assert rows(page.text) == [stored(new["transaction_id"]).id]
    bad = client.get("/transactions/?date_from=yesterday")
    assert bad.status_code == 200 and "Not a valid date value." in bad.text
    assert len(rows(bad.text)) == 2


def test_anomaly_badges_show_on_the_list(client, login, three):
    anomaly(three[0], "price_override")
    anomaly(three[0], "long_offline")
    login("auditor")
    page = client.get("/transactions/")
    assert 'data-anomaly="price_override"' in page.text
    assert 'data-anomaly="long_offline"' in page.text


def test_older_and_newer_pages_follow_cursors_without_repeats(client, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    moment = ago(hours=1)
    # Two sales share a timestamp: the id breaks the tie, so none repeats nor goes missing.
    sales = [
        sold("HOUSTON-1", n, created_at=local(moment if n > 3 else ago(hours=n)))
        for n in range(1, 6)
    ]
    upload("HOUSTON-1", *sales)
    login("auditor")

    seen, pages, url = [], [], "/transactions/?store=HOUSTON"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        assert "offset" not in url and "page=" not in url
        pages.append(url)
        seen.extend(rows(page.text))
        url = link(page.text, "Older")
    assert len(pages) == 3
    assert len(seen) == 5 and len(set(seen)) == 5
    assert all("store=HOUSTON" in p for p in pages)

    # Newer steps back through the same pages.
    last = client.get(pages[-1])
    middle = client.get(link(last.text, "Newer"))
    assert rows(middle.text) == seen[2:4]
    first = client.get(link(middle.text, "Newer"))
    assert rows(first.text) == seen[:2]
    assert link(first.text, "Newer") is None


def test_newer_steps_back_one_page_however_deep_with_a_short_link(client, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 1)
    upload(
        "HOUSTON-1", *[sold("HOUSTON-1", n, created_at=local(ago(hours=n))) for n in range(1, 51)]
    )
    login("auditor")

    seen, url = [], "/transactions/"
    for _ in range(45):
        page = client.get(url)
        seen.extend(rows(page.text))
        url = link(page.text, "Older")
    deep = client.get(url)
    newer = link(deep.text, "Newer")
    back = client.get(newer)
    again_older = link(back.text, "Older")

    assert rows(back.text) == seen[-1:]
    assert len(newer) < 200 and "trail" not in newer
    assert rows(client.get(again_older).text) == rows(deep.text)


def test_a_forged_cursor_is_refused(client, login, three):
    login("auditor")
    assert client.get("/transactions/?cursor=not-a-cursor").status_code == 422
    assert client.get("/transactions/?before=not-a-cursor").status_code == 422


def test_detail_shows_lines_payments_session_times_anomalies_and_conflicts(client, login, stores):
    created = ago(minutes=95)
    first = sold("HOUSTON-1", 7, created_at=local(created))
    upload("HOUSTON-1", first)
    other = dict(first, staff="000999")
    upload("HOUSTON-1", other)  # the same id with other content: kept aside as a conflict
    sale_row = stored(first["transaction_id"])
    sale_row.offline_since = created - timedelta(minutes=90)
    db.session.commit()
    found = anomaly(sale_row, "long_offline", "Offline for 3 h")
    login("hq")

    page = client.get(f"/transactions/{sale_row.id}")
    assert page.status_code == 200
    text = page.text
    assert "P-1001" in text and "4.99" in text and "VAT20" in text and "2.00" in text
    assert 'data-field="total">$11.98<' in text  # in the store's currency (USD)
    assert "cash" in text
    assert f'href="/upload-sessions/{sale_row.upload_session_id}"' in text
    assert re.search(r'data-field="delay">1 h 3[45] min<', text)
    assert "1 h 30 min before this sale" in text
    assert "long offline" in text and "Offline for 3 h" in text and "open" in text
    assert f"/anomalies/{found.id}/review" not in text  # hq reads, auditors review
    assert '\n  "staff": "000999",\n' in text  # the conflict's content, pretty JSON
    assert "Not reviewed yet." in text
    assert "Save review" not in text


def test_auditor_reviews_a_transaction_with_a_comment(client, login, three):
    email = login("auditor")
    url = f"/transactions/{three[0].id}"
    assert "Save review" in client.get(url).text

    refused = client.post(f"{url}/review", data={"status": "flagged", "comment": ""})
    assert refused.status_code == 422
    assert "Say why it is flagged." in refused.text

    answer = client.post(f"{url}/review", data={"status": "flagged", "comment": "Till short"})
    assert answer.status_code == 302 and answer.location.endswith(url)
    page = client.get(url)
    assert "is marked flagged" in page.text and "Till short" in page.text
    db.session.expire_all()
    assert stored(three[0].transaction_id).review_status == "flagged"
    review = db.session.scalar(sa.select(Review))
    assert (review.subject, review.subject_id, review.actor) == ("transaction", three[0].id, email)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "review"))
    assert entry is not None and entry.entity_key == str(three[0].id)
    flagged = client.get("/transactions/?review_status=flagged")
    assert rows(flagged.text) == [three[0].id]


@pytest.mark.parametrize("role", ["hq", "scheduler"])
def test_roles_without_review_rights_cannot_review(client, login, three, role):
    login(role)
    answer = client.post(
        f"/transactions/{three[0].id}/review", data={"status": "reviewed", "comment": ""}
    )
    assert answer.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 0


def test_scheduler_cannot_read_transactions(client, login, three):
    login("scheduler")
    for url in ("/transactions/", f"/transactions/{three[0].id}", "/upload-sessions/"):
        assert client.get(url).status_code == 403, url


def test_unknown_transaction_is_404(client, login, stores):
    login("auditor")
    assert client.get("/transactions/999999").status_code == 404


@pytest.mark.parametrize("url", ["/transactions/?format=csv", "/transactions/export.csv"])
def test_csv_export_streams_the_filtered_rows_with_exact_amounts(client, login, three, url):
    login("hq")
    response = client.get(url, query_string={"store": "DALLAS"} if "?" not in url else None)
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    if "?" in url:
        assert [row["receipt_number"] for row in table] == [
            "DALLAS-1-000001",
            "HOUSTON-2-000001",
            "HOUSTON-1-000001",
        ]
    else:
        assert [row["store"] for row in table] == ["DALLAS"]
    dallas = table[0]
    assert Decimal(dallas["total"]) == Decimal("250.005") and dallas["total"] == "250.005"
    assert dallas["offline"] == "yes" and dallas["register"] == "DALLAS-1"
    assert dallas["created_at_local"].endswith("-06:00")


def test_csv_export_reads_in_batches(client, login, stores, monkeypatch):
    monkeypatch.setattr("portal.auditor.export.BATCH", 2)
    upload(
        "HOUSTON-1", *(sold("HOUSTON-1", n, created_at=local(ago(minutes=n))) for n in range(1, 6))
    )
    login("auditor")
    response = client.get("/transactions/export.csv")
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0][:3] == ["id", "transaction_id", "store"]
    assert [row[5] for row in table[1:]] == [f"HOUSTON-1-{n:06d}" for n in range(1, 6)]


def test_upload_sessions_list_and_rejected_transactions(client, login, stores):
    good = sold("HOUSTON-1", 1, created_at=local(ago(minutes=5)))
    bad = sold("HOUSTON-1", 2, created_at=local(ago(minutes=4)), total="1.00")
    upload("HOUSTON-1", good, bad)
    upload("DALLAS-1", sold("DALLAS-1", 1, created_at=local(ago(minutes=3))))
    houston, dallas = db.session.scalars(sa.select(UploadSession).order_by(UploadSession.id))
    login("auditor")

    page = client.get("/upload-sessions/")
    assert page.status_code == 200
    sessions = [int(n) for n in re.findall(r'data-session="(\d+)"', page.text)]
    assert sessions == [dallas.id, houston.id]
    assert "HOUSTON-1" in page.text  # the database that sent it
    only = client.get("/upload-sessions/?store=houston&status=applied")
    assert re.findall(r'data-session="(\d+)"', only.text) == [str(houston.id)]

    detail = client.get(f"/upload-sessions/{houston.id}")
    assert detail.status_code == 200
    assert "2: 1 accepted, 0 duplicate, 1 rejected, 0 conflict" in detail.text
    assert f'data-refused="{bad["transaction_id"]}"' in detail.text
    assert good["transaction_id"] not in detail.text
    assert client.get("/upload-sessions/999999").status_code == 404


def test_csv_export_keeps_typed_text_from_running_as_a_formula(client, login, stores):
    upload("HOUSTON-1", sold("HOUSTON-1", 1, created_at=local(ago(minutes=1)), staff="=1+2"))
    login("auditor")
    response = client.get("/transactions/export.csv")
    (row,) = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    assert row["staff"] == "'=1+2"
