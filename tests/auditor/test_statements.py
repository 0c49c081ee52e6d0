"""Shift statements: sent by a register's device, stored once, reconciled against its sales."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.auditor.models import Anomaly
from portal.auditor.tasks import statements_due
from portal.core.extensions import db
from portal.transactions.models import ShiftStatement
from portal.transactions.statement_hash import sales_digest, statement_hash
from portal.transactions.validation import check
from tests.transactions.conftest import device_headers, made, offline_database, send

pytestmark = pytest.mark.usefixtures("app_ctx")
STATEMENTS = "/api/v1/device/statements"


def statement(register="HOUSTON-1", shift="2026-11-20-1", first=1, last=3, previous=None, **extra):
    """A statement of `last - first + 1` sales of 11.98 paid cash, as the sale builder makes."""
    n = last - first + 1
    body = {
        "register": register,
        "shift_id": shift,
        "opened_at": "2026-11-20T08:00:00-06:00",
        "closed_at": "2026-11-20T18:00:00-06:00",
        "first_sequence": first,
        "last_sequence": last,
        "counts": {"sale": n},
        "totals": {"sale": f"{11.98 * n:.2f}"},
        "payments": {"cash": f"{11.98 * n:.2f}"},
        "previous_hash": previous,
    }
    return body | extra


def post(client, headers, body, status=200):
    response = client.post(STATEMENTS, json=body, headers=headers)
    assert response.status_code == status, response.text
    return response.json


def stored(shift: str) -> ShiftStatement:
    db.session.expire_all()
    return db.session.scalar(sa.select(ShiftStatement).filter_by(shift_id=shift))


def open_kinds(shift: str) -> list[str]:
    s = stored(shift)
    return sorted(
        db.session.scalars(
            sa.select(Anomaly.kind).where(
                Anomaly.shift_statement_id == s.id, Anomaly.cleared_at.is_(None)
            )
        )
    )


def test_reconciled_when_every_sale_arrived(client, register_device):
    send(client, register_device, *(made("HOUSTON-1", n) for n in (1, 2, 3)))
    answer = post(client, register_device, statement())
    assert answer["status"] == "accepted"
    assert answer["state"] == "reconciled"
    # The device computes the hash its next statement names the same way HQ does.
    assert answer["statement_hash"] == statement_hash(statement())
    assert open_kinds("2026-11-20-1") == []


def test_idempotent_and_other_content_is_a_conflict(client, register_device):
    first = post(client, register_device, statement())
    again = post(client, register_device, statement())
    assert again["status"] == "duplicate" and again["statement"] == first["statement"]
    changed = statement(payments={"card": "35.94"})
    answer = post(client, register_device, changed, 409)
    assert answer["error"]["code"] == "conflict"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ShiftStatement)) == 1
    assert stored("2026-11-20-1").payments == {"cash": "35.94"}


def test_a_device_reports_for_its_own_register_only(client, register_device):
    answer = post(client, register_device, statement(register="HOUSTON-2"), 403)
    assert "HOUSTON-1 only" in answer["error"]["message"]
    dallas = device_headers(offline_database("DALLAS-1"))
    post(client, dallas, statement(register="HOUSTON-1"), 403)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ShiftStatement)) == 0


def test_store_server_reports_for_its_store_registers(client, store_device):
    post(client, store_device, statement(register="HOUSTON-2"))
    post(client, store_device, statement(register="DALLAS-1", shift="x"), 403)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"last_sequence": 0}, "last_sequence"),
        ({"counts": {"sale": 2}}, "counts"),
        ({"payments": {"cash": "1.00"}}, "payments"),
        ({"closed_at": "2026-11-19T18:00:00-06:00"}, "closed_at"),
        ({"totals": {"gift": "1.00"}}, "totals"),
        ({"totals": {"sale": "1.00001"}}, "totals"),
        ({"previous_hash": "abc"}, "previous_hash"),
        ({"opened_at": "2026-11-20T08:00:00"}, "opened_at"),
    ],
)
def test_bad_statements_are_refused_by_field(client, register_device, change, field):
    answer = post(client, register_device, statement() | change, 422)
    assert field in str(answer["error"]["fields"]), answer
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ShiftStatement)) == 0


def test_sales_missing_then_reconciled_when_they_arrive(client, register_device):
    send(client, register_device, made("HOUSTON-1", 1))
    answer = post(client, register_device, statement(last=4))
    assert answer["state"] == "sales_missing"
    s = stored("2026-11-20-1")
    assert s.missing == [2, 3, 4] and s.missing_count == 3
    assert str(s.unaccounted.normalize()) == "35.94"
    assert open_kinds("2026-11-20-1") == ["statement_sales_missing"]
    send(client, register_device, made("HOUSTON-1", 2), made("HOUSTON-1", 4))
    assert stored("2026-11-20-1").missing == [3]
    send(client, register_device, made("HOUSTON-1", 3))
    s = stored("2026-11-20-1")
    assert s.state == "reconciled" and s.missing == [] and s.unaccounted == 0
    assert open_kinds("2026-11-20-1") == []
    cleared = db.session.scalar(sa.select(Anomaly).where(Anomaly.shift_statement_id == s.id))
    assert cleared.cleared_at is not None and "cleared" in cleared.detail


def test_totals_differ_per_payment_method(client, register_device):
    card = {"payments": [{"method": "CARD", "amount": "11.98"}]}
    send(client, register_device, made("HOUSTON-1", 1), made("HOUSTON-1", 2, **card))
    answer = post(
        client, register_device, statement(last=2, payments={"cash": "13.96", "card": "10.00"})
    )
    assert answer["state"] == "totals_differ"
    differences = stored("2026-11-20-1").differences
    assert differences["payments"]["cash"]["difference"] == "1.98"
    assert differences["payments"]["card"]["difference"] == "-1.98"
    assert open_kinds("2026-11-20-1") == ["statement_totals_differ"]


def test_sales_digest_tells_altered_content(client, register_device):
    sales = [made("HOUSTON-1", n) for n in (1, 2)]
    send(client, register_device, *sales)
    good = sales_digest([check(s)[0].content_sha256 for s in sales])
    assert post(client, register_device, statement(last=2, sales_digest=good))["state"] == (
        "reconciled"
    )
    other = statement(shift="b", first=1, last=2, sales_digest="0" * 64)
    other["previous_hash"] = stored("2026-11-20-1").statement_hash
    assert post(client, register_device, other)["state"] == "totals_differ"
    assert "sales_digest" in stored("b").differences


def test_chain_broken_by_a_statement_never_received(client, register_device):
    send(client, register_device, *(made("HOUSTON-1", n) for n in range(1, 7)))
    first = statement(first=1, last=2)
    second = statement(shift="2", first=3, last=4, previous=statement_hash(first))
    second |= {"opened_at": "2026-11-21T08:00:00-06:00", "closed_at": "2026-11-21T18:00:00-06:00"}
    third = statement(shift="3", first=5, last=6, previous=statement_hash(second))
    third |= {"opened_at": "2026-11-22T08:00:00-06:00", "closed_at": "2026-11-22T18:00:00-06:00"}
    post(client, register_device, first)
    assert post(client, register_device, third)["state"] == "statement_missing"
    assert stored("3").chain_broken
    assert open_kinds("3") == ["statement_missing"]
    # The missing statement arrives: the chain is whole again.
    assert post(client, register_device, second)["state"] == "reconciled"
    assert stored("3").state == "reconciled" and not stored("3").chain_broken
    assert open_kinds("3") == []


def test_a_restarted_chain_is_broken(client, register_device):
    send(client, register_device, *(made("HOUSTON-1", n) for n in range(1, 5)))
    post(client, register_device, statement(first=1, last=2))
    later = statement(shift="2", first=3, last=4)
    later |= {"opened_at": "2026-11-21T08:00:00-06:00", "closed_at": "2026-11-21T18:00:00-06:00"}
    assert post(client, register_device, later)["state"] == "statement_missing"


def test_a_register_that_sold_and_closed_no_shift(client, register_device):
    old = timedelta(hours=30)
    send(client, register_device, *(made("HOUSTON-1", n, ago=old) for n in (1, 2, 3, 4)))
    send(client, register_device, made("HOUSTON-1", 5))  # too recent to be overdue
    post(client, register_device, statement(first=1, last=2))
    assert statements_due() == 1  # as beat runs it
    (overdue,) = db.session.scalars(
        sa.select(Anomaly).where(
            Anomaly.kind == "statement_missing", Anomaly.shift_statement_id.is_(None)
        )
    )
    assert (overdue.detail["from"], overdue.detail["to"], overdue.detail["sales"]) == (3, 4, 2)
    assert overdue.pos_transaction.sequence == 3 and overdue.cleared_at is None
    later = statement(shift="2", first=3, last=5, previous=stored("2026-11-20-1").statement_hash)
    later |= {"opened_at": "2026-11-21T08:00:00-06:00", "closed_at": "2026-11-21T18:00:00-06:00"}
    assert post(client, register_device, later)["state"] == "reconciled"
    db.session.refresh(overdue)
    assert overdue.cleared_at is not None
