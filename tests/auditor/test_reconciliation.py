"""The Reconciliation page, its CSV and the statements API, on statements sent by devices."""

import csv
import io

import pytest

from tests.auditor.test_statements import post, statement
from tests.transactions.conftest import made, send

pytestmark = pytest.mark.usefixtures("app_ctx")
LIST = "/api/v1/statements"


@pytest.fixture
def shifts(client, register_device, store_device):
    """HOUSTON-1: shift a reconciled, shift b with sequence 5 missing; HOUSTON-2: totals differ."""
    send(client, register_device, *(made("HOUSTON-1", n) for n in (1, 2, 3, 4, 6)))
    first = post(client, register_device, statement(shift="a", first=1, last=3))
    later = statement(shift="b", first=4, last=6, previous=first["statement_hash"])
    later |= {"opened_at": "2026-11-21T08:00:00-06:00", "closed_at": "2026-11-21T18:00:00-06:00"}
    post(client, register_device, later)
    send(client, store_device, made("HOUSTON-2", 1))
    post(
        client,
        store_device,
        statement(register="HOUSTON-2", shift="c", first=1, last=1, payments={"card": "11.98"}),
    )


def test_api_lists_statements_with_state_and_missing(client, token_for, shifts):
    headers = token_for("auditor")
    response = client.get(LIST, headers=headers)
    assert response.status_code == 200, response.text
    items = {item["shift_id"]: item for item in response.json["items"]}
    assert items["a"]["state"] == "reconciled"
    assert (items["b"]["state"], items["b"]["missing"], items["b"]["unaccounted"]) == (
        "sales_missing",
        [5],
        "11.9800",
    )
    assert items["c"]["differences"]["payments"]["card"]["difference"] == "11.98"
    only = client.get(
        LIST, query_string={"register": "HOUSTON-1", "state": "sales_missing"}, headers=headers
    )
    assert [item["shift_id"] for item in only.json["items"]] == ["b"]
    assert client.get(LIST, query_string={"state": "lost"}, headers=headers).status_code == 422
    assert client.get(LIST, headers=token_for("scheduler")).status_code == 403


def test_page_shows_store_days_worst_first(client, login, shifts):
    login("auditor")
    page = client.get("/auditor/reconciliation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # 21 Nov (sequence 5 missing) before 20 Nov (one shift differs, one reconciled).
    assert html.index('data-store-day="HOUSTON 2026-11-21"') < html.index(
        'data-store-day="HOUSTON 2026-11-20"'
    )
    assert 'data-shift="b" data-state="sales_missing"' in html
    filtered = client.get("/auditor/reconciliation?state=reconciled").get_data(as_text=True)
    assert 'data-shift="a"' in filtered and 'data-shift="b"' not in filtered


def test_csv_export(client, login, shifts):
    login("auditor")
    response = client.get("/auditor/reconciliation?format=csv&register=HOUSTON-1")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["shift_id"], r["state"], r["missing_sequences"]) for r in rows] == [
        ("b", "sales_missing", "5"),
        ("a", "reconciled", ""),
    ]
