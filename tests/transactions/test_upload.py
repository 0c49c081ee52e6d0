"""Uploading sales: each transaction accepted, duplicate, conflict or rejected, stored once."""

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.device_api.models import DeviceStatus
from portal.transactions.models import (
    PosTransaction,
    TransactionConflict,
    TransactionLine,
    TransactionPayment,
    UploadSession,
)
from tests.transactions.conftest import UPLOAD, offline_database, sale

pytestmark = pytest.mark.usefixtures("app_ctx")


def count(model) -> int:
    """How many rows of this model exist."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def stored(transaction_id: str) -> PosTransaction:
    """The stored sale with this id."""
    db.session.expire_all()
    return db.session.scalar(sa.select(PosTransaction).filter_by(transaction_id=transaction_id))


def post(client, headers, *transactions, key: str | None = None):
    """Upload the transactions as one batch."""
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(UPLOAD, json={"transactions": list(transactions)}, headers=headers | extra)


def statuses(response) -> list[str]:
    """The status of every transaction of the response, in order."""
    assert response.status_code == 200, response.text
    return [result["status"] for result in response.json["results"]]


def test_a_new_sale_is_accepted_and_stored_exactly(client, register_device):
    sent = sale()

    response = post(client, register_device, sent)

    assert response.json["counts"] == {"accepted": 1, "duplicate": 0, "rejected": 0, "conflict": 0}
    assert response.json["results"] == [
        {"transaction_id": sent["transaction_id"], "status": "accepted", "errors": {}}
    ]
    row = stored(sent["transaction_id"])
    assert row.register.register_number == "HOUSTON-1"
    assert row.store.store_number == "HOUSTON"
    assert (row.sequence, row.receipt_number, row.staff, row.offline) == (
        42,
        "HOUSTON-1-000042",
        "000160",
        True,
    )
    assert row.created_at == datetime(2026, 11, 20, 13, 3, 11, tzinfo=UTC)
    assert row.utc_offset_minutes == 60
    assert row.total == Decimal("11.98")
    [line] = row.lines
    assert (line.line_number, line.product, line.tax_code) == (1, "P-1001", "VAT20")
    assert (line.quantity, line.unit_price, line.discount, line.tax_amount) == (
        Decimal("2"),
        Decimal("4.99"),
        Decimal("0"),
        Decimal("2.00"),
    )
    [payment] = row.payments
    assert (payment.method, payment.amount) == ("cash", Decimal("11.98"))
    assert row.upload_session_id == response.json["upload_session"]


def test_decimals_round_trip_exactly_whether_sent_as_text_or_json_numbers(client, register_device):
    # 0.1 and 1234567.8901 have no exact float; read as floats they would come back altered.
    lines = [
        {"product": "P-1", "quantity": 3, "unit_price": "0.1", "tax_amount": "0.0200"},
        {"product": "P-2", "quantity": "0.375", "unit_price": "1234567.8901", "discount": "0.0001"},
    ]
    body = json.dumps(
        {"transactions": [sale(lines=lines, total="PLACEHOLDER", payments="PAYMENTS")]}
    )
    total = "462963.2788"  # 0.3 + 0.02 + 462962.958787 - 0.0001, rounded as a register would
    body = body.replace('"PLACEHOLDER"', total).replace(
        '"PAYMENTS"', f'[{{"method": "card", "amount": {total}}}]'
    )

    response = client.post(
        UPLOAD, data=body, headers=register_device | {"Content-Type": "application/json"}
    )

    assert statuses(response) == ["accepted"]
    row = stored(response.json["results"][0]["transaction_id"])
    assert [(ln.quantity, ln.unit_price, ln.discount, ln.tax_amount) for ln in row.lines] == [
        (Decimal(3), Decimal("0.1"), Decimal(0), Decimal("0.02")),
        (Decimal("0.375"), Decimal("1234567.8901"), Decimal("0.0001"), Decimal(0)),
    ]
    assert row.total == Decimal(total)
    assert row.payments[0].amount == Decimal(total)


def test_largest_amounts_keep_every_digit_on_postgresql(client, register_device):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps 15 significant digits of a NUMERIC; PostgreSQL keeps them all")
    big = "99999999999999.9999"
    body = json.dumps(
        {
            "transactions": [
                sale(
                    lines=[{"product": "GOLD", "quantity": "1", "unit_price": big}],
                    payments=[{"method": "wire", "amount": big}],
                    total=big,
                )
            ]
        }
    ).replace(f'"{big}"', big)  # as JSON numbers: a float would round them to 1e14

    response = client.post(
        UPLOAD, data=body, headers=register_device | {"Content-Type": "application/json"}
    )

    assert statuses(response) == ["accepted"]
    row = stored(response.json["results"][0]["transaction_id"])
    assert row.total == row.lines[0].unit_price == Decimal(big)


def test_the_same_sale_again_is_a_duplicate_and_stored_once(client, register_device):
    first = sale()
    post(client, register_device, first)
    # The same content written differently: upper-case id, numbers, other decimal places.
    again = first | {
        "transaction_id": first["transaction_id"].upper(),
        "created_at": "2026-11-20T14:03:11.000+01:00",
        "lines": [first["lines"][0] | {"quantity": 2, "unit_price": "4.9900", "discount": "0"}],
        "total": "11.980",
    }

    response = post(client, register_device, again)

    assert statuses(response) == ["duplicate"]
    assert response.json["results"][0]["transaction_id"] == first["transaction_id"]
    assert response.json["results"][0]["errors"] == {}
    assert (count(PosTransaction), count(TransactionLine), count(TransactionPayment)) == (1, 1, 1)
    assert count(TransactionConflict) == 0


def test_other_content_under_a_known_id_is_a_conflict_kept_aside(client, register_device):
    first = sale()
    post(client, register_device, first)
    changed = first | {
        "lines": [first["lines"][0] | {"unit_price": "3.99"}],
        "payments": [{"method": "cash", "amount": "9.98"}],
        "total": "9.98",
    }

    response = post(client, register_device, changed)
    post(client, register_device, changed)  # the same conflict once more: recorded once

    assert statuses(response) == ["conflict"]
    assert "auditor" in response.json["results"][0]["errors"]["transaction_id"]
    row = stored(first["transaction_id"])
    assert row.total == Decimal("11.98")
    assert row.lines[0].unit_price == Decimal("4.99")
    [conflict] = db.session.scalars(sa.select(TransactionConflict)).all()
    assert conflict.pos_transaction_id == row.id
    assert conflict.upload_session_id == response.json["upload_session"]
    assert conflict.content_sha256 != row.content_sha256
    assert conflict.payload["total"] == "9.9800"
    assert conflict.payload["lines"][0]["unit_price"] == "3.9900"


def test_a_later_offset_is_other_content_though_the_instant_is_the_same(client, register_device):
    first = sale()
    post(client, register_device, first)

    response = post(client, register_device, first | {"created_at": "2026-11-20T13:03:11Z"})

    assert statuses(response) == ["conflict"]


def test_a_mixed_batch_reports_each_transaction_and_stores_the_good_ones(client, register_device):
    known, to_change = sale(sequence=1), sale(sequence=2)
    post(client, register_device, known, to_change)
    fresh = sale(sequence=3)
    bad = sale(sequence=0)
    conflicting = to_change | {"staff": "000999"}

    response = post(client, register_device, fresh, known, bad, conflicting, sale(sequence=4))

    assert statuses(response) == ["accepted", "duplicate", "rejected", "conflict", "accepted"]
    assert response.json["counts"] == {"accepted": 2, "duplicate": 1, "rejected": 1, "conflict": 1}
    assert response.json["results"][2] == {
        "transaction_id": bad["transaction_id"],
        "status": "rejected",
        "errors": {"sequence": "A whole number from 1."},
    }
    assert stored(bad["transaction_id"]) is None
    assert count(PosTransaction) == 4


def test_one_id_twice_in_a_batch_is_stored_once(client, register_device):
    once = sale()
    other_content = once | {"receipt_number": "HOUSTON-1-999999"}

    response = post(client, register_device, once, once, other_content)

    assert statuses(response) == ["accepted", "duplicate", "conflict"]
    assert count(PosTransaction) == 1
    assert count(TransactionConflict) == 1


def test_each_batch_is_an_upload_session_with_its_counts_and_response(client, register_device):
    known = sale()
    post(client, register_device, known)

    response = post(client, register_device, sale(), known, sale(total="1.00"))

    session = db.session.get(UploadSession, response.json["upload_session"])
    assert session.channel_database == offline_database("HOUSTON-1")
    assert session.status == response.json["status"] == "applied"
    assert (session.transactions, session.accepted, session.duplicates) == (3, 1, 1)
    assert (session.rejected, session.conflicts) == (1, 0)
    assert session.finished_at is not None and session.idempotency_key is None
    assert session.response == response.json
    assert session.message == "1 accepted, 1 duplicate, 1 rejected, 0 conflict"
    assert count(UploadSession) == 2


def test_an_upload_sets_the_database_last_upload_time(client, register_device):
    database = offline_database("HOUSTON-1")
    assert db.session.get(DeviceStatus, database.id) is None
    before = datetime.now(UTC)

    post(client, register_device, sale())
    db.session.expire_all()
    first = db.session.get(DeviceStatus, database.id).last_upload_at
    post(client, register_device)
    db.session.expire_all()
    status = db.session.get(DeviceStatus, database.id)

    assert before <= first <= status.last_upload_at
    assert count(DeviceStatus) == 1


def test_an_empty_batch_is_an_empty_session(client, register_device):
    response = post(client, register_device)

    assert response.json["results"] == [] and response.json["status"] == "applied"
    assert count(UploadSession) == 1


def test_the_store_server_uploads_for_every_register_of_its_store(client, store_device):
    response = post(
        client,
        store_device,
        sale(register="HOUSTON-1"),
        sale(register="houston-2"),
        sale(register="DALLAS-1"),
    )

    assert statuses(response) == ["accepted", "accepted", "rejected"]
    assert response.json["results"][2]["errors"] == {
        "register": "Register DALLAS-1 is not a register of store HOUSTON."
    }
    numbers = db.session.scalars(
        sa.select(PosTransaction.register_id).order_by(PosTransaction.sequence)
    )
    assert len(list(numbers)) == 2


@pytest.mark.parametrize("register", ["HOUSTON-2", "DALLAS-1", "NOWHERE-7"])
def test_a_register_device_uploads_for_its_own_register_only(client, register_device, register):
    response = post(client, register_device, sale(register=register), sale())

    assert statuses(response) == ["rejected", "accepted"]
    assert response.json["results"][0]["errors"] == {
        "register": "This device uploads for register HOUSTON-1 only."
    }


def test_a_retry_with_the_idempotency_key_replays_the_first_response(client, register_device):
    batch = [sale(), sale(sequence=0)]

    first = post(client, register_device, *batch, key="batch-0001")
    retry = post(client, register_device, *batch, key="batch-0001")

    assert retry.status_code == 200
    assert retry.data == first.data
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(UploadSession) == 1 and count(PosTransaction) == 1
    session = db.session.scalar(sa.select(UploadSession))
    assert session.idempotency_key == "batch-0001"
    assert len(session.request_sha256) == 64


def test_the_same_key_with_another_body_is_refused(client, register_device):
    post(client, register_device, sale(), key="batch-0001")

    response = post(client, register_device, sale(), key="batch-0001")

    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"
    assert "another batch" in response.json["error"]["message"]
    assert response.json["error"]["fields"] == {"Idempotency-Key": "Used for another batch."}
    assert count(PosTransaction) == 1


def test_keys_belong_to_one_database(client, register_device, store_device):
    batch = [sale()]

    first = post(client, register_device, *batch, key="shared-key")
    other = post(client, store_device, *batch, key="shared-key")

    assert statuses(first) == ["accepted"]
    assert statuses(other) == ["duplicate"]
    assert "Idempotent-Replayed" not in other.headers


def test_every_response_is_replayable_without_a_key_as_duplicates(client, register_device):
    batch = [sale(sequence=n) for n in range(1, 6)]
    post(client, register_device, *batch)

    again = post(client, register_device, *batch)

    assert statuses(again) == ["duplicate"] * 5
    assert count(PosTransaction) == 5
    assert count(TransactionLine) == 5


def test_a_uuid_in_any_form_is_stored_lower_case(client, register_device):
    plain = uuid.uuid4()

    response = post(client, register_device, sale(transaction_id=plain.hex.upper()))

    assert response.json["results"][0]["transaction_id"] == str(plain)
    assert stored(str(plain)) is not None
