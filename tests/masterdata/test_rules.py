"""Per-entity rules: types, exact decimals, ISO dates, ranges, formats and references."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.core.errors import NotFound, ValidationFailed
from portal.core.extensions import db
from portal.distribution.tables import TABLES, DistributedTable
from portal.masterdata import services
from portal.masterdata.entities import ENTITIES, get_entity
from portal.masterdata.prices import ExchangeRate, TradeAgreement
from portal.masterdata.tax import SalesTaxGroup, TaxRate
from tests.masterdata.conftest import price, product

pytestmark = pytest.mark.usefixtures("reference")


def refusal(entity: str, rows: list[dict]) -> dict[str, str]:
    """The per-row field errors of a refused bulk upsert (after rolling it back)."""
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_upsert(entity, rows)
    db.session.rollback()
    return caught.value.fields


def test_every_distributable_table_is_an_entity_with_its_natural_key():
    master_data = {name for name, table in TABLES.items() if isinstance(table, DistributedTable)}
    assert set(ENTITIES) == master_data
    assert "offline_profile" not in ENTITIES  # setup sent whole by job 1200, edited elsewhere
    assert ENTITIES["trade_agreement"].key == ("price_group", "product_number", "valid_from")
    kinds = {f.name: f.kind for f in ENTITIES["trade_agreement"].fields}
    assert kinds == {
        "price_group": "str",
        "product_number": "str",
        "unit_price": "decimal",
        "currency": "str",
        "valid_from": "date",
        "valid_to": "date",
    }
    assert ENTITIES["sales_tax_group"].field_map["tax_codes"].kind == "list"
    assert ENTITIES["screen_layout"].field_map["layout"].kind == "object"
    assert ENTITIES["payment_method"].field_map["allowed_offline"].kind == "bool"


def test_unknown_entity_is_not_found():
    with pytest.raises(NotFound):
        get_entity("sales_transaction")


def test_decimals_are_kept_exact_from_text_and_json_numbers():
    services.bulk_upsert("product", [product("P1")])
    services.bulk_upsert(
        "trade_agreement",
        [price("P1", "0.10"), price("P1", 19.99, valid_from="2026-02-01")],
    )
    db.session.commit()
    prices = db.session.scalars(sa.select(TradeAgreement).order_by(TradeAgreement.valid_from))
    assert [p.unit_price for p in prices] == [Decimal("0.1"), Decimal("19.99")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Not a decimal."),
        ("4.12345", "At most 4 decimal places."),
        ("-1", "At least 0."),
        ("NaN", "Not a decimal."),
        ("12345678901", "Too large."),
        (True, "Not a decimal."),
    ],
)
def test_bad_prices_are_refused_with_the_reason(value, message):
    services.bulk_upsert("product", [product("P1")])
    db.session.commit()
    assert refusal("trade_agreement", [price("P1", value)]) == {"rows.0.unit_price": message}


@pytest.mark.parametrize("value", ["2026-13-01", "01/02/2026", "2026-01-01T10:00", 20260101])
def test_dates_must_be_iso_calendar_dates(value):
    rows = [{"tax_code": "TX-STATE", "rate": "6.25", "valid_from": value}]
    assert refusal("tax_rate", rows) == {"rows.0.valid_from": "Not a date (YYYY-MM-DD)."}


def test_tax_rate_rules_range_period_and_existing_tax_code():
    rows = [
        {"tax_code": "TX-STATE", "rate": "101", "valid_from": "2026-01-01"},
        {"tax_code": "NOPE", "rate": "5", "valid_from": "2026-01-01"},
        {"tax_code": "TX-STATE", "rate": "5", "valid_from": "2026-06-01", "valid_to": "2026-05-31"},
    ]
    assert refusal("tax_rate", rows) == {
        "rows.0.rate": "At most 100.",
        "rows.1.tax_code": "No tax code 'NOPE'. Choose one of the tax codes.",
        "rows.2.valid_to": "Not before the valid from date.",
    }
    services.bulk_upsert(
        "tax_rate", [{"tax_code": "TX-STATE", "rate": 6.25, "valid_from": date(2024, 1, 1)}]
    )
    rate = db.session.scalar(sa.select(TaxRate))
    assert (rate.rate, rate.valid_from) == (Decimal("6.25"), date(2024, 1, 1))


def test_trade_agreement_needs_a_live_product_price_group_and_currency():
    services.bulk_upsert("product", [product("P1"), product("GONE")])
    services.bulk_delete("product", ["GONE"])
    db.session.commit()
    rows = [price("GONE"), price("P1", price_group="VIP", currency="EUR")]
    assert refusal("trade_agreement", rows) == {
        "rows.0.product_number": "No product 'GONE'. Choose one of the products.",
        "rows.1.price_group": "No price group 'VIP'. Choose one of the price groups.",
        "rows.1.currency": "No currency 'EUR'. Choose one of the currencies.",
    }


def test_list_fields_take_text_or_json_lists_and_each_code_must_exist():
    rows = [{"code": "TX", "name": "Texas", "tax_codes": "TX-STATE, TX-HOU"}]
    assert refusal("sales_tax_group", rows) == {
        "rows.0.tax_codes": "No tax code 'TX-HOU'. Choose one of the tax codes."
    }
    services.bulk_upsert(
        "sales_tax_group", [{"code": "TX", "name": "Texas", "tax_codes": ["TX-STATE"]}]
    )
    assert db.session.scalar(sa.select(SalesTaxGroup.tax_codes)) == ["TX-STATE"]
    rows = [{"code": "WA", "name": "Washington", "tax_codes": [1, 2]}]
    assert refusal("sales_tax_group", rows) == {"rows.0.tax_codes": "A list of codes, e.g. A, B."}


def test_formats_of_codes_emails_and_countries():
    assert refusal("currency", [{"code": "usd", "name": "x"}]) == {
        "rows.0.code": "Three capital letters, e.g. USD."
    }
    services.bulk_upsert(
        "customer", [{"account_number": "C1", "name": "Jo", "email": "jo@example.com"}]
    )
    db.session.commit()
    assert refusal("customer", [{"account_number": "C2", "name": "Al", "email": "al@"}]) == {
        "rows.0.email": "Not an email address."
    }
    address = {"account_number": "C1", "street": "1 Main St", "city": "Austin"}
    assert refusal("customer_address", [{**address, "postal_code": "78701", "country": "us"}]) == {
        "rows.0.country": "Two capital letters, e.g. US."
    }


def test_exchange_rate_between_two_known_currencies():
    services.bulk_upsert("currency", [{"code": "CAD", "name": "Canadian dollar"}])
    db.session.commit()
    rate = {"from_currency": "USD", "rate": "1.365", "valid_from": "2024-01-01"}
    assert refusal("exchange_rate", [{**rate, "to_currency": "USD"}]) == {
        "rows.0.to_currency": "Must differ from the from currency."
    }
    assert refusal("exchange_rate", [{**rate, "to_currency": "CAD", "rate": "0"}]) == {
        "rows.0.rate": "At least 0.00000001."
    }
    services.bulk_upsert("exchange_rate", [{**rate, "to_currency": "CAD"}])
    assert db.session.scalar(sa.select(ExchangeRate.rate)) == Decimal("1.365")


def test_a_category_may_name_a_parent_sent_in_the_same_request():
    rows = [
        {"code": "ESPRESSO", "name": "Espresso", "parent_code": "HOT-DRINKS"},
        {"code": "HOT-DRINKS", "name": "Hot drinks", "parent_code": "COFFEE"},
    ]
    assert services.bulk_upsert("product_category", rows).inserted == 2
    assert refusal("product_category", [{"code": "X", "name": "X", "parent_code": "NONE"}]) == {
        "rows.0.parent_code": "No product category 'NONE'. Choose one of the product categories."
    }


def test_booleans_whole_numbers_and_unknown_fields():
    rows = [
        {"code": "MGR", "name": "Managers", "allow_void": "yes", "max_discount_percent": "150"},
        {"code": "CSH", "name": "Cashiers", "allow_void": "maybe", "max_discount_percent": "1.5"},
        {"code": "TRN", "name": "Trainees", "colour": "red"},
    ]
    assert refusal("pos_permission_group", rows) == {
        "rows.0.max_discount_percent": "At most 100.",
        "rows.1.allow_void": "Not true or false.",
        "rows.1.max_discount_percent": "Not a whole number.",
        "rows.2.colour": "Unknown field.",
    }


def test_worker_stores_name_a_real_store_and_a_live_worker():
    rows = [{"staff_id": "000160", "store_number": "NOWHERE"}]
    assert refusal("worker_store", rows) == {
        "rows.0.staff_id": "No worker '000160'. Choose one of the workers.",
        "rows.0.store_number": "No store 'NOWHERE'. Choose one of the stores.",
    }


def test_text_is_trimmed_and_limited_to_the_column_length():
    assert refusal("product", [product("P" * 31)]) == {
        "rows.0.product_number": "At most 30 characters."
    }
    assert refusal("product", [{**product("P1"), "name": 42}]) == {"rows.0.name": "Must be text."}
    services.bulk_upsert("product", [{**product("  P2 "), "name": "  Beans  "}])
    row = services.rows_query(get_entity("product"), "P2").limit(1)
    assert db.session.scalar(row).name == "Beans"
