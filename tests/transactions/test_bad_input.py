"""Every bad upload is refused clearly: whole batches with 4xx, single transactions as rejected."""

import json

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.device_api.models import DeviceToken
from portal.transactions.models import PosTransaction, UploadSession
from tests.core.routes import row_counts
from tests.transactions.conftest import SALE, UPLOAD, sale

pytestmark = pytest.mark.usefixtures("app_ctx")

GOOD_LINE = SALE["lines"][0]


def refused(response, status: int, code: str) -> dict:
    """Check the error shape and return its fields."""
    assert response.status_code == status, response.text
    assert set(response.json) == {"error"}
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    return response.json["error"]["fields"]


def test_without_a_device_token_the_upload_is_unauthorized(client, stores, token_for):
    for headers in ({}, {"Authorization": "Bearer hqd_unknown"}, token_for("admin")):
        response = client.post(UPLOAD, json={"transactions": [sale()]}, headers=headers)
        refused(response, 401, "unauthorized")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PosTransaction)) == 0


def test_a_revoked_device_token_is_unauthorized(client, register_device):
    db.session.scalar(sa.select(DeviceToken)).revoked_at = sa.func.now()
    db.session.commit()

    response = client.post(UPLOAD, json={"transactions": [sale()]}, headers=register_device)

    refused(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "body",
    [b'{"transactions": [', b"not json", b'{"transactions": [NaN]}', b"\xff\xfe\x00", b""],
    ids=["truncated", "text", "nan", "bad-bytes", "empty"],
)
def test_malformed_json_is_a_bad_request(app, client, register_device, body):
    before = row_counts(app)

    response = client.post(
        UPLOAD, data=body, headers=register_device | {"Content-Type": "application/json"}
    )

    refused(response, 400, "malformed_json")
    assert row_counts(app) == before


def test_a_body_over_5_mb_is_too_large(app, client, register_device):
    before = row_counts(app)
    body = b'{"transactions": [], "padding": "' + b"x" * (5 * 1024 * 1024) + b'"}'

    response = client.post(
        UPLOAD, data=body, headers=register_device | {"Content-Type": "application/json"}
    )

    refused(response, 413, "request_entity_too_large")
    assert row_counts(app) == before


def test_a_batch_of_500_is_taken_and_501_refused(client, register_device):
    batch = [sale(sequence=n) for n in range(1, 502)]

    over = client.post(UPLOAD, json={"transactions": batch}, headers=register_device)
    full = client.post(UPLOAD, json={"transactions": batch[:500]}, headers=register_device)

    fields = refused(over, 422, "validation_failed")
    assert fields == {"transactions": "At most 500 per batch."}
    assert "at most 500" in over.json["error"]["message"]
    assert full.status_code == 200
    assert full.json["counts"]["accepted"] == 500


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ([sale()], {"transactions": "Required."}),
        ({}, {"transactions": "Required."}),
        ({"transactions": {"a": 1}}, {"transactions": "A list."}),
        ({"transactions": [], "device": "x"}, {"device": "Unknown field."}),
    ],
    ids=["list", "empty", "not-a-list", "unknown-field"],
)
def test_a_batch_of_the_wrong_shape_is_refused_whole(client, register_device, body, fields):
    response = client.post(UPLOAD, json=body, headers=register_device)

    assert refused(response, 422, "validation_failed") == fields
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadSession)) == 0


def test_an_overlong_idempotency_key_is_refused(client, register_device):
    headers = register_device | {"Idempotency-Key": "k" * 101}

    response = client.post(UPLOAD, json={"transactions": [sale()]}, headers=headers)

    assert refused(response, 422, "validation_failed") == {
        "Idempotency-Key": "1 to 100 characters."
    }


def line(**changes) -> list[dict]:
    """The example's one line, changed."""
    return [GOOD_LINE | changes]


DECIMAL = 'A decimal number, e.g. "4.99".'
REJECTIONS = {
    "unknown-field": ({"colour": "red"}, {"colour": "Unknown field."}),
    "unknown-line-field": (
        {"lines": line(colour="red")},
        {"lines[0].colour": "Unknown field."},
    ),
    "unknown-payment-field": (
        {"payments": [{"method": "cash", "amount": "11.98", "note": "x"}]},
        {"payments[0].note": "Unknown field."},
    ),
    "bad-uuid": (
        {"transaction_id": "not-a-uuid"},
        {"transaction_id": "A UUID, e.g. 0b7c5d1e-8f0a-4c3e-9d2b-6a1f4e8c7b21."},
    ),
    "number-uuid": (
        {"transaction_id": 12},
        {"transaction_id": "A UUID, e.g. 0b7c5d1e-8f0a-4c3e-9d2b-6a1f4e8c7b21."},
    ),
    "missing": (
        {"register": None, "receipt_number": None, "staff": None, "offline": None},
        {
            "register": "Required.",
            "receipt_number": "Required.",
            "staff": "Required.",
            "offline": "Required.",
        },
    ),
    "text-decimal": ({"lines": line(quantity="two")}, {"lines[0].quantity": DECIMAL}),
    "exponent-text": ({"lines": line(quantity="2e0")}, {"lines[0].quantity": DECIMAL}),
    "comma": ({"lines": line(unit_price="4,99")}, {"lines[0].unit_price": DECIMAL}),
    "empty-decimal": ({"lines": line(quantity="")}, {"lines[0].quantity": DECIMAL}),
    "bool-decimal": ({"total": True}, {"total": DECIMAL}),
    "nan-text": ({"total": "NaN"}, {"total": DECIMAL}),
    "five-places": (
        {"lines": line(unit_price="4.99001")},
        {"lines[0].unit_price": "At most 4 decimal places."},
    ),
    "too-large": ({"lines": line(unit_price=1e20)}, {"lines[0].unit_price": "Too large."}),
    "zero-quantity": ({"lines": line(quantity="0")}, {"lines[0].quantity": "Must not be zero."}),
    "negative-price": (
        {"lines": line(unit_price="-4.99")},
        {"lines[0].unit_price": "Must not be negative."},
    ),
    "discount-over-amount": (
        {"lines": line(discount="10.00")},
        {"lines[0].discount": "Between 0 and quantity × unit price."},
    ),
    "negative-discount": (
        {"lines": line(discount="-1")},
        {"lines[0].discount": "Between 0 and quantity × unit price."},
    ),
    "naive-time": (
        {"created_at": "2026-11-20T14:03:11"},
        {"created_at": "Include the register's UTC offset, e.g. +01:00 or Z."},
    ),
    "not-a-time": (
        {"created_at": "yesterday"},
        {"created_at": "ISO 8601 with the UTC offset, e.g. 2026-11-20T14:03:11+01:00."},
    ),
    "seconds-offset": (
        {"created_at": "2026-11-20T14:03:11+01:00:30"},
        {"created_at": "The UTC offset must be whole minutes."},
    ),
    "sequence-zero": ({"sequence": 0}, {"sequence": "A whole number from 1."}),
    "sequence-text": ({"sequence": "42"}, {"sequence": "A whole number from 1."}),
    "sequence-fraction": ({"sequence": 1.5}, {"sequence": "A whole number from 1."}),
    "sequence-bool": ({"sequence": True}, {"sequence": "A whole number from 1."}),
    "offline-text": ({"offline": "yes"}, {"offline": "true or false."}),
    "long-receipt": ({"receipt_number": "R" * 41}, {"receipt_number": "At most 40 characters."}),
    "blank-product": ({"lines": line(product="  ")}, {"lines[0].product": "Required."}),
    "nul-in-text": (
        {"staff": "0001\x0060", "lines": line(product="P-10\x0001")},
        {
            "staff": "Must not contain the NUL character (U+0000).",
            "lines[0].product": "Must not contain the NUL character (U+0000).",
        },
    ),
    "no-lines": ({"lines": []}, {"lines": "A list of at least one line."}),
    "line-not-object": ({"lines": ["P-1001"]}, {"lines[0]": "Must be an object."}),
    "total-off": (
        {"total": "12.98", "payments": [{"method": "cash", "amount": "12.98"}]},
        {
            "total": "The lines come to 11.9800 (quantity × unit price − discount + tax), "
            "not 12.9800."
        },
    ),
    "payments-short": (
        {"payments": [{"method": "cash", "amount": "10.00"}]},
        {"payments": "The payments add up to 10.0000, not the total 11.9800."},
    ),
    "not-an-object": ("a sale", {"transaction": "Must be an object."}),
}


@pytest.mark.parametrize(("changes", "errors"), REJECTIONS.values(), ids=REJECTIONS.keys())
def test_a_bad_transaction_is_rejected_with_its_errors_and_spares_its_neighbours(
    client, register_device, changes, errors
):
    bad = changes if isinstance(changes, str) else sale(**changes)
    if isinstance(bad, dict):
        bad = {name: value for name, value in bad.items() if value is not None}

    response = client.post(
        UPLOAD, json={"transactions": [sale(), bad, sale()]}, headers=register_device
    )

    assert response.status_code == 200, response.text
    results = response.json["results"]
    assert [result["status"] for result in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["errors"] == errors
    # A rejected transaction is named by the id it gave, if it gave one as text.
    given = bad.get("transaction_id") if isinstance(bad, dict) else None
    assert results[1]["transaction_id"] == (given if isinstance(given, str) else None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PosTransaction)) == 2


def test_every_error_of_a_transaction_is_reported_at_once(client, register_device):
    bad = sale(sequence=0, extra=1, lines=line(quantity="x", tax_amount="1.234567"))

    response = client.post(UPLOAD, json={"transactions": [bad]}, headers=register_device)

    assert response.json["results"][0]["errors"] == {
        "sequence": "A whole number from 1.",
        "extra": "Unknown field.",
        "lines[0].quantity": DECIMAL,
        "lines[0].tax_amount": "At most 4 decimal places.",
    }


def test_json_numbers_are_never_read_as_floats(client, register_device):
    # 4.990000000000000001 as a float is 4.99: read exactly, it has too many places.
    text = json.dumps({"transactions": [sale(lines=line(unit_price="UNIT"))]})
    body = text.replace('"UNIT"', "4.990000000000000001")

    response = client.post(
        UPLOAD, data=body, headers=register_device | {"Content-Type": "application/json"}
    )

    assert response.json["results"][0]["errors"] == {
        "lines[0].unit_price": "At most 4 decimal places."
    }
