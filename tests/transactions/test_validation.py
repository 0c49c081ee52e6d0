"""The rules a sale must meet, and when two uploads of it count as the same content."""

import hashlib
import json
from decimal import Decimal

from portal.transactions.validation import check
from tests.transactions.conftest import sale


def content_hash(item: dict) -> str:
    """The content hash of a sale that passes every check."""
    checked, errors = check(item)
    assert not errors
    return checked.content_sha256


def test_the_same_content_written_differently_hashes_the_same():
    first = sale()
    same = first | {
        "transaction_id": first["transaction_id"].upper(),
        "register": " houston-1 ",
        "created_at": "2026-11-20T14:03:11.000000+01:00",
        "lines": [
            first["lines"][0] | {"quantity": 2, "unit_price": Decimal("4.990"), "discount": "-0.00"}
        ],
        "total": "11.9800",
    }
    without_defaults = first | {
        "lines": [{k: v for k, v in first["lines"][0].items() if k != "discount"}]
    }

    assert content_hash(first) == content_hash(same) == content_hash(without_defaults)


def test_any_change_of_content_changes_the_hash():
    first = sale()
    changes = [
        {"sequence": 43},
        {"staff": "000161"},
        {"offline": False},
        {"created_at": "2026-11-20T13:03:11+00:00"},
        {"payments": [{"method": "card", "amount": "11.98"}]},
        {"lines": [first["lines"][0] | {"tax_code": "VAT5"}]},
    ]

    hashes = {content_hash(first | change) for change in changes}

    assert len(hashes | {content_hash(first)}) == len(changes) + 1


def test_a_return_has_negative_quantity_discount_tax_and_payment():
    returned = sale(
        lines=[
            {
                "product": "P-1001",
                "quantity": "-1",
                "unit_price": "4.99",
                "discount": "-0.50",
                "tax_amount": "-0.90",
            }
        ],
        payments=[{"method": "cash", "amount": "-5.39"}],
        total="-5.39",
    )

    checked, errors = check(returned)

    assert errors == {}
    assert checked.total == Decimal("-5.39")


def test_the_total_may_differ_by_the_rounding_of_each_line_and_no_more():
    # 0.375 kg at 4.99 is 1.87125: the register rounds the line to 1.87.
    weighed = {"product": "CHEESE", "quantity": "0.375", "unit_price": "4.99"}

    def with_total(total: str, lines: int = 1) -> dict:
        return sale(
            lines=[weighed] * lines,
            payments=[{"method": "cash", "amount": total}],
            total=total,
        )

    assert check(with_total("1.87"))[1] == {}
    assert check(with_total("1.88"))[1] == {}
    assert "total" in check(with_total("1.89"))[1]
    assert check(with_total("5.63", lines=3))[1] == {}  # 5.61375, off by at most 0.01 a line
    assert "total" in check(with_total("5.65", lines=3))[1]


def test_a_sale_paid_by_several_tenders_adds_them_up():
    split = sale(
        payments=[
            {"method": "card", "amount": "10"},
            {"method": "cash", "amount": Decimal("1.98")},
        ],
    )

    assert check(split)[1] == {}


def test_the_time_is_kept_in_utc_with_the_register_offset():
    checked, _ = check(sale(created_at="2026-11-20T09:03:11-05:30"))

    assert checked.created_at.isoformat() == "2026-11-20T14:33:11+00:00"
    assert checked.utc_offset_minutes == -330
    assert checked.canonical["created_at"] == "2026-11-20T09:03:11-05:30"


def test_the_canonical_form_is_written_as_json_dumps_writes_it():
    # The form is written directly for speed; it must stay byte for byte what json.dumps gives,
    # including text that JSON escapes and the optional fields.
    odd = 'Caf\u00e9 "\u00e0 la" \\ carte\t\u2603 \u00e9\U0001f600'
    item = sale(
        staff=odd,
        kind="return",
        offline_since="2026-11-20T12:00:00+01:00",
        lines=[
            {
                "product": odd,
                "quantity": "-2",
                "unit_price": "4.995",
                "discount": "-0.01",
                "tax_code": "A+B",
                "tax_amount": "0",
                "price_override": True,
            },
            {"product": "P-1", "quantity": 1, "unit_price": "0"},
        ],
        payments=[{"method": odd, "amount": "-9.98"}, {"method": "card", "amount": "0.00"}],
        total="-9.98",
    )
    checked, errors = check(item)

    assert errors == {}
    form = checked.canonical
    dumped = json.dumps(form, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert checked.canonical_json == dumped
    assert checked.canonical["lines"] == [
        {
            "product": odd,
            "quantity": "-2.0000",
            "unit_price": "4.9950",
            "discount": "-0.0100",
            "tax_code": "A+B",
            "tax_amount": "0.0000",
            "price_override": True,
        },
        {
            "product": "P-1",
            "quantity": "1.0000",
            "unit_price": "0.0000",
            "discount": "0.0000",
            "tax_code": "",
            "tax_amount": "0.0000",
        },
    ]
    assert checked.canonical["payments"] == [
        {"method": odd, "amount": "-9.9800"},
        {"method": "card", "amount": "0.0000"},
    ]
    assert (checked.canonical["staff"], checked.canonical["total"]) == (odd, "-9.9800")
    assert checked.canonical["kind"] == "return"
    assert checked.canonical["offline_since"] == "2026-11-20T12:00:00+01:00"
    assert checked.content_sha256 == hashlib.sha256(dumped.encode()).hexdigest()
