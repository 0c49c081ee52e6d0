"""The optional fields of a sale: its kind, since when the register was offline, price overrides."""

import hashlib
import json

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.transactions.models import PosTransaction, TransactionLine
from portal.transactions.validation import check
from tests.transactions.conftest import UPLOAD, sale

OVERRIDDEN = [sale()["lines"][0] | {"price_override": True}]


def checked(item: dict):
    """The checked sale, asserting it passed."""
    result, errors = check(item)
    assert not errors, errors
    return result


def test_a_sale_without_the_new_fields_keeps_the_hash_it_always_had():
    item = sale()
    canonical = {
        "transaction_id": item["transaction_id"],
        "register": "HOUSTON-1",
        "sequence": 42,
        "receipt_number": "HOUSTON-1-000042",
        "staff": "000160",
        "created_at": "2026-11-20T14:03:11+01:00",
        "offline": True,
        "lines": [
            {
                "product": "P-1001",
                "quantity": "2.0000",
                "unit_price": "4.9900",
                "discount": "0.0000",
                "tax_code": "VAT20",
                "tax_amount": "2.0000",
            }
        ],
        "payments": [{"method": "cash", "amount": "11.9800"}],
        "total": "11.9800",
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert checked(item).content_sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_the_defaults_spelled_out_hash_like_leaving_them_out():
    item = sale()
    spelled = item | {
        "kind": "sale",
        "lines": [item["lines"][0] | {"price_override": False}],
    }

    assert checked(spelled).content_sha256 == checked(item).content_sha256
    assert checked(spelled).kind == "sale"


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "void"},
        {"kind": "return"},
        {"offline_since": "2026-11-20T12:00:00+01:00"},
        {"lines": OVERRIDDEN},
    ],
)
def test_each_new_field_given_changes_the_hash(change):
    item = sale()

    assert checked(item | change).content_sha256 != checked(item).content_sha256


def test_offline_since_is_kept_in_utc_and_may_equal_created_at():
    result = checked(sale(offline_since="2026-11-20T14:03:11+01:00"))

    assert result.offline_since.isoformat() == "2026-11-20T13:03:11+00:00"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"kind": "refund"}, "kind", "One of sale, return, void."),
        ({"kind": None}, "kind", "One of sale, return, void."),
        ({"kind": ["sale"]}, "kind", "One of sale, return, void."),
        ({"offline_since": "yesterday"}, "offline_since", "ISO 8601"),
        ({"offline_since": "2026-11-20T12:00:00"}, "offline_since", "UTC offset"),
        ({"offline_since": 1700000000}, "offline_since", "ISO 8601"),
        ({"offline_since": "2026-11-20T14:03:12+01:00"}, "offline_since", "Not after"),
        (
            {"offline": False, "offline_since": "2026-11-20T12:00:00+01:00"},
            "offline_since",
            "Only for a sale made offline.",
        ),
        (
            {"lines": [sale()["lines"][0] | {"price_override": "yes"}]},
            "lines[0].price_override",
            "true or false.",
        ),
        (
            {"lines": [sale()["lines"][0] | {"price_override": 1}]},
            "lines[0].price_override",
            "true or false.",
        ),
    ],
)
def test_bad_values_of_the_new_fields_are_rejected_by_field(change, field, message):
    result, errors = check(sale() | change)

    assert result is None
    assert list(errors) == [field]
    assert message in errors[field]


def test_the_new_fields_are_stored(client, register_device, app_ctx):
    void = sale(kind="void", offline_since="2026-11-20T13:00:00+01:00", lines=OVERRIDDEN)
    plain = sale(sequence=43, receipt_number="HOUSTON-1-000043")

    response = client.post(UPLOAD, json={"transactions": [void, plain]}, headers=register_device)

    assert response.json["counts"]["accepted"] == 2, response.json
    rows = {
        row.transaction_id: row
        for row in db.session.scalars(sa.select(PosTransaction).order_by(PosTransaction.id))
    }
    stored, default = rows[void["transaction_id"]], rows[plain["transaction_id"]]
    assert (stored.kind, stored.offline_since.isoformat()) == ("void", "2026-11-20T12:00:00+00:00")
    assert (default.kind, default.offline_since) == ("sale", None)
    overrides = dict(
        db.session.execute(
            sa.select(TransactionLine.pos_transaction_id, TransactionLine.price_override)
        ).all()
    )
    assert overrides == {stored.id: True, default.id: False}


def test_a_resend_with_the_new_fields_is_a_duplicate_and_other_values_a_conflict(
    client, register_device
):
    first = sale(kind="return", offline_since="2026-11-20T13:00:00+01:00")
    again = dict(first)
    other = first | {"kind": "void"}

    client.post(UPLOAD, json={"transactions": [first]}, headers=register_device)
    response = client.post(UPLOAD, json={"transactions": [again, other]}, headers=register_device)

    assert [r["status"] for r in response.json["results"]] == ["duplicate", "conflict"]
