"""The auditors' JSON API of received transactions: filters, pages, detail, reviews, roles."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.transactions.models import PosTransaction
from tests.transactions.conftest import made
from tests.transactions.conftest import send as send_batch

pytestmark = pytest.mark.usefixtures("app_ctx")
LIST = "/api/v1/transactions"


def send(client, headers, *sales) -> None:
    answer = send_batch(client, headers, *sales)
    assert answer["counts"]["rejected"] == 0, answer


def pk(transaction_id: str) -> int:
    """The row id of a stored sale."""
    return db.session.scalar(sa.select(PosTransaction.id).filter_by(transaction_id=transaction_id))


@pytest.fixture
def auditor(token_for):
    return token_for("auditor")


@pytest.fixture
def shop(client, store_device):
    """Five HOUSTON sales, an hour apart, newest last; the DALLAS one comes via its device."""
    sales = [
        made("HOUSTON-1", 1, ago=timedelta(hours=5), offline=False, staff="000161"),
        made("HOUSTON-1", 2, ago=timedelta(hours=4), kind="return"),
        made("HOUSTON-2", 1, ago=timedelta(hours=3), **_priced("2.00")),
        made("HOUSTON-2", 2, ago=timedelta(hours=2), **_priced("50.00")),
        made("HOUSTON-1", 4, ago=timedelta(hours=1)),  # 3 is missing: a gap
    ]
    send(client, store_device, *sales)
    return [s["transaction_id"] for s in sales]


def _priced(amount: str) -> dict:
    return {
        "lines": [{"product": "P-9", "quantity": "1", "unit_price": amount}],
        "payments": [{"method": "card", "amount": amount}],
        "total": amount,
    }


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["transaction_id"] for item in response.json["items"]]


def test_the_list_is_newest_first_in_pages_that_neither_repeat_nor_skip(client, auditor, shop):
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = client.get(LIST, query_string=query, headers=auditor)
        seen += ids(response)
        cursor = response.json["next"]
        if cursor is None:
            break

    assert seen == shop[::-1]


def test_sales_made_at_the_same_instant_page_by_sequence(client, auditor, store_device):
    at = (utcnow() - timedelta(hours=1)).isoformat()
    same = [made("HOUSTON-1", n, created_at=at) for n in (2, 3, 1)]
    send(client, store_device, *same)
    # Receipt order, the latest first like the instants: whatever order they were stored in.
    newest_first = sorted(same, key=lambda s: s["sequence"], reverse=True)

    first = client.get(LIST, query_string={"limit": 2}, headers=auditor)
    second = client.get(
        LIST, query_string={"limit": 2, "cursor": first.json["next"]}, headers=auditor
    )

    assert ids(first) + ids(second) == [s["transaction_id"] for s in newest_first]
    assert second.json["next"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"register": "HOUSTON-2"}, [3, 2]),
        ({"store": "HOUSTON"}, [4, 3, 2, 1, 0]),
        ({"store": "DALLAS"}, []),
        ({"offline": "false"}, [0]),
        ({"offline": "true", "register": "HOUSTON-1"}, [4, 1]),
        ({"staff": "000161"}, [0]),
        ({"kind": "return"}, [1]),
        ({"min_total": "11.98"}, [4, 3, 1, 0]),
        ({"max_total": "11.98"}, [4, 2, 1, 0]),
        ({"min_total": "2", "max_total": "2.00"}, [2]),
        ({"anomaly": "sequence_gap"}, [4]),
        ({"anomaly": "offline_return"}, [1]),
        ({"review_status": "open"}, [4, 3, 2, 1, 0]),
        ({"review_status": "flagged"}, []),
        ({"q": "houston-2-000002"}, [3]),
        # Any part of a receipt number, in any case.
        ({"q": "n-2-000"}, [3, 2]),
        ({"q": "ON-2-000002"}, [3]),
    ],
)
def test_filters(client, auditor, shop, query, expected):
    response = client.get(LIST, query_string=query, headers=auditor)

    assert ids(response) == [shop[i] for i in expected]


def test_date_filters_take_days_or_instants(client, auditor, shop):
    now = utcnow()
    three_hours_ago = (now - timedelta(hours=3, minutes=1)).isoformat()
    tomorrow = (now + timedelta(days=1)).date().isoformat()
    long_ago = (now - timedelta(days=3)).date().isoformat()

    def listed(**query):
        return ids(client.get(LIST, query_string=query, headers=auditor))

    assert listed(date_from=three_hours_ago) == shop[:1:-1]
    assert listed(date_to=three_hours_ago) == shop[1::-1]
    assert listed(date_from=tomorrow) == []
    assert listed(date_from=long_ago, date_to=tomorrow) == shop[::-1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "refund"}, "kind"),
        ({"anomaly": "odd"}, "anomaly"),
        ({"review_status": "done"}, "review_status"),
        ({"offline": "maybe"}, "offline"),
        ({"min_total": "lots"}, "min_total"),
        ({"date_from": "2026-11-20T10:00:00"}, "date_from"),
        ({"date_to": "yesterday"}, "date_to"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzFd"}, "cursor"),
    ],
)
def test_bad_filters_name_the_field(client, auditor, query, field):
    response = client.get(LIST, query_string=query, headers=auditor)

    assert response.status_code == 422, response.text
    assert field in response.json["error"]["fields"]


def test_the_detail_tells_the_whole_story(client, auditor, register_device):
    now = utcnow()
    first = made(
        "HOUSTON-1",
        5,
        created_at=(now - timedelta(minutes=30)).isoformat(),
        offline_since=(now - timedelta(minutes=100)).isoformat(),
    )
    send(client, register_device, made("HOUSTON-1", 2), first)
    send(client, register_device, first | {"staff": "000999"})

    response = client.get(f"{LIST}/{pk(first['transaction_id'])}", headers=auditor)

    assert response.status_code == 200, response.text
    body = response.json
    assert body["transaction_id"] == first["transaction_id"]
    assert (body["store"], body["register"], body["sequence"]) == ("HOUSTON", "HOUSTON-1", 5)
    assert body["offline_minutes"] == 70
    assert 30 * 60 - 5 <= body["received_after_seconds"] <= 30 * 60 + 60
    assert body["lines"] == [
        {
            "line_number": 1,
            "product": "P-1001",
            "quantity": "2.0000",
            "unit_price": "4.9900",
            "discount": "0.0000",
            "tax_code": "VAT20",
            "tax_amount": "2.0000",
            "price_override": False,
        }
    ]
    assert body["payments"] == [{"line_number": 1, "method": "cash", "amount": "11.9800"}]
    assert body["total"] == "11.9800" and body["kind"] == "sale"
    assert sorted(a["kind"] for a in body["anomalies"]) == ["conflict", "sequence_gap"]
    (conflict,) = body["conflicts"]
    assert conflict["payload"]["staff"] == "000999"
    assert isinstance(body["upload_session"], int)
    assert body["reviews"] == []


def test_unknown_transactions_are_404(client, auditor):
    for pk_ in (1, 2**31, 2**63):
        response = client.get(f"{LIST}/{pk_}", headers=auditor)
        assert response.status_code == 404, response.text
        assert response.json["error"]["code"] == "not_found"
    response = client.post(f"{LIST}/999/review", json={"status": "reviewed"}, headers=auditor)
    assert response.status_code == 404


def test_an_auditor_reviews_and_the_trail_says_who_and_when(client, token_for, shop):
    auditor = token_for("auditor")
    target = pk(shop[0])

    response = client.post(
        f"{LIST}/{target}/review",
        json={"status": "flagged", "comment": "Staff 000161 sold online at night."},
        headers=auditor,
    )

    assert response.status_code == 201, response.text
    assert response.json["status"] == "flagged"
    assert response.json["actor"].startswith("auditor-")
    detail = client.get(f"{LIST}/{target}", headers=auditor).json
    assert detail["review_status"] == "flagged"
    assert [r["comment"] for r in detail["reviews"]] == ["Staff 000161 sold online at night."]
    entry = db.session.scalar(sa.select(AuditEntry).filter_by(action="review"))
    assert (entry.actor, entry.entity_type, entry.entity_key) == (
        response.json["actor"],
        "transaction",
        str(target),
    )
    assert entry.after["status"] == "flagged" and entry.at is not None
    flagged = client.get(LIST, query_string={"review_status": "flagged"}, headers=auditor)
    assert ids(flagged) == [shop[0]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "flagged"}, "comment"),
        ({"status": "open"}, "status"),
        ({}, "status"),
        ({"status": "reviewed", "comment": "x" * 2001}, "comment"),
    ],
)
def test_a_bad_review_names_the_field(client, auditor, shop, body, field):
    response = client.post(f"{LIST}/{pk(shop[0])}/review", json=body, headers=auditor)

    assert response.status_code == 422, response.text
    assert field in response.json["error"]["fields"]


def test_roles(client, token_for, shop):
    target = pk(shop[0])
    review = {"status": "reviewed"}

    for role in ("scheduler",):
        headers = token_for(role)
        assert client.get(LIST, headers=headers).status_code == 403
        assert client.get(f"{LIST}/{target}", headers=headers).status_code == 403
    hq = token_for("hq")
    assert client.get(LIST, headers=hq).status_code == 200
    assert client.post(f"{LIST}/{target}/review", json=review, headers=hq).status_code == 403
    for role in ("auditor", "admin"):
        headers = token_for(role)
        assert client.get(f"{LIST}/{target}", headers=headers).status_code == 200
        response = client.post(f"{LIST}/{target}/review", json=review, headers=headers)
        assert response.status_code == 201
    assert client.get(LIST).status_code == 401


def test_nothing_edits_or_deletes_a_transaction(client, token_for, shop):
    admin = token_for("admin")
    target = f"{LIST}/{pk(shop[0])}"

    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(target, json={"total": "0"}, headers=admin)
        assert response.status_code == 405, (method, response.text)
        assert "error" in response.json
    assert client.post(LIST, json={}, headers=admin).status_code == 405
    assert client.delete(f"{target}/review", headers=admin).status_code == 405
