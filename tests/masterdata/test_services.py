"""Bulk upserts and deletes: counts, change versions, all or nothing, tombstones, audit."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.audit.services import set_actor
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.masterdata import services
from portal.masterdata.entities import get_entity
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import Product
from portal.masterdata.tax import TaxRate
from tests.masterdata.conftest import audit_entries, price, product

pytestmark = pytest.mark.usefixtures("reference")


def versions() -> dict[str, int]:
    return dict(db.session.execute(sa.select(Product.product_number, Product.row_version)).all())


def test_bulk_upsert_inserts_then_updates_only_what_changed_under_one_version_each():
    first = services.bulk_upsert("product", [product("P1"), product("P2"), product("P3")])
    db.session.commit()
    second = services.bulk_upsert(
        "product",
        [product("P1"), product("P2", name="Renamed"), product("P4", base_price="2.50")],
    )
    db.session.commit()

    assert (first.inserted, first.updated) == (3, 0)
    assert (second.inserted, second.updated) == (1, 1)
    assert second.version > first.version
    assert versions() == {
        "P1": first.version,
        "P2": second.version,
        "P3": first.version,
        "P4": second.version,
    }
    renamed = db.session.scalar(sa.select(Product).filter_by(product_number="P2"))
    assert renamed.name == "Renamed" and renamed.base_price == Decimal("0")
    p4 = db.session.scalar(sa.select(Product).filter_by(product_number="P4"))
    assert p4.base_price == Decimal("2.50") and p4.unit == "pcs"


def test_an_update_may_send_only_the_fields_it_changes():
    services.bulk_upsert("product", [product("P1", base_price="3.00", category="COFFEE")])
    db.session.commit()

    outcome = services.bulk_upsert("product", [{"product_number": "P1", "base_price": "3.50"}])
    db.session.commit()

    row = db.session.scalar(sa.select(Product))
    assert outcome.updated == 1
    assert (row.name, row.category, row.base_price) == ("Product P1", "COFFEE", Decimal("3.5"))


def test_unchanged_rows_take_no_version_and_leave_no_audit_entry():
    services.bulk_upsert("product", [product("P1")])
    db.session.commit()
    before = len(audit_entries("product"))

    outcome = services.bulk_upsert("product", [product("P1")])
    db.session.commit()

    assert (outcome.inserted, outcome.updated, outcome.version) == (0, 0, None)
    assert len(audit_entries("product")) == before


def test_one_audit_entry_per_bulk_change_with_counts_and_actor():
    set_actor("hq@example.com", "api")
    rows = [product(f"P{n}") for n in range(1, 51)]
    outcome = services.bulk_upsert("product", rows)
    services.bulk_delete("product", ["P1", "P2"])
    db.session.commit()

    upsert, delete = audit_entries("product")
    assert (upsert.action, upsert.entity_key, upsert.actor, upsert.source) == (
        "bulk_upsert",
        "50 rows",
        "hq@example.com",
        "api",
    )
    assert upsert.after == {
        "inserted": 50,
        "updated": 0,
        "deleted": 0,
        "version": outcome.version,
    }
    assert (delete.action, delete.after["deleted"]) == ("bulk_delete", 2)


def test_a_request_with_bad_rows_saves_nothing_and_reports_every_error():
    services.bulk_upsert("product", [product("P1")])
    db.session.commit()
    rows = [
        price("P1"),
        price("P1", "abc", valid_from="2026-02-01"),
        price("P1", valid_from="2026-03-01"),
        price("NOPE"),
        price("P1", valid_from="2026-04-01", valid_to="2026-03-01"),
        {"product_number": "P1"},
    ]

    with pytest.raises(ValidationFailed) as caught:
        services.bulk_upsert("trade_agreement", rows)
    db.session.rollback()

    assert caught.value.fields == {
        "rows.1.unit_price": "Not a decimal.",
        "rows.3.product_number": "No product 'NOPE'. Choose one of the products.",
        "rows.4.valid_to": "Not before the valid from date.",
        "rows.5.price_group": "Required.",
        "rows.5.valid_from": "Required.",
    }
    assert caught.value.message == "4 of 6 row(s) have errors; nothing was saved."
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TradeAgreement)) == 0


def test_required_fields_are_needed_to_create_a_row():
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_upsert("product", [{"product_number": "P1", "base_price": "1"}])
    assert caught.value.fields == {"rows.0.name": "Required."}


def test_the_same_key_twice_in_one_request_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_upsert("product", [product("P1"), product("P2"), product("P1")])
    assert caught.value.fields == {"rows.2.product_number": "Same key as rows.0."}


def test_requests_are_limited_in_size():
    rows = [product(f"P{n}") for n in range(services.MAX_ROWS + 1)]
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_upsert("product", rows)
    assert caught.value.fields == {"rows": f"At most {services.MAX_ROWS} per request."}
    with pytest.raises(ValidationFailed):
        services.bulk_delete("product", [])


def test_a_large_request_is_checked_and_written_in_chunks():
    rows = [product(f"P{n:05d}") for n in range(services.MAX_ROWS)]
    outcome = services.bulk_upsert("product", rows)
    db.session.commit()
    assert outcome.inserted == services.MAX_ROWS
    assert set(versions().values()) == {outcome.version}


def test_bulk_delete_tombstones_live_rows_by_natural_key():
    services.bulk_upsert("product", [product("P1"), product("P2")])
    rates = [
        {"tax_code": "TX-STATE", "rate": "6.25", "valid_from": "2024-01-01"},
        {"tax_code": "TX-STATE", "rate": "6.5", "valid_from": "2025-01-01"},
    ]
    services.bulk_upsert("tax_rate", rates)
    db.session.commit()

    first = services.bulk_delete("product", ["P1", {"product_number": "P9"}])
    rate = services.bulk_delete("tax_rate", [{"tax_code": "TX-STATE", "valid_from": "2025-01-01"}])
    db.session.commit()
    again = services.bulk_delete("product", ["P1"])

    assert (first.deleted, rate.deleted, again.deleted) == (1, 1, 0)
    rows = {p.product_number: p for p in db.session.scalars(sa.select(Product))}
    assert rows["P1"].deleted and rows["P1"].row_version == first.version
    assert not rows["P2"].deleted
    live = db.session.scalars(sa.select(TaxRate).filter_by(deleted=False)).all()
    assert [r.rate for r in live] == [Decimal("6.25")]


def test_bulk_delete_checks_the_keys():
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_delete(
            "tax_rate", [{"tax_code": "TX-STATE"}, {"tax_code": "X", "valid_from": "x"}, "bare"]
        )
    assert caught.value.fields == {
        "keys.0.valid_from": "Required.",
        "keys.1.valid_from": "Not a date (YYYY-MM-DD).",
        "keys.2.row": "Not an object of field values.",
    }


def test_upserting_a_deleted_row_brings_it_back_with_a_new_version():
    services.bulk_upsert("product", [product("P1")])
    deleted = services.bulk_delete("product", ["P1"])
    db.session.commit()

    outcome = services.bulk_upsert("product", [product("P1")])
    db.session.commit()

    row = db.session.scalar(sa.select(Product))
    assert outcome.updated == 1 and not row.deleted
    assert row.row_version == outcome.version > deleted.version


def test_rows_query_hides_tombstones_unless_asked_and_searches_key_and_name():
    services.bulk_upsert(
        "product", [product("ESP-1", name="Espresso"), product("TEA-1", name="Green tea")]
    )
    services.bulk_delete("product", ["TEA-1"])
    db.session.commit()
    entity = get_entity("product")

    def numbers(*args, **kwargs):
        stmt = services.rows_query(entity, *args, **kwargs)
        return [row.product_number for row in db.session.scalars(stmt)]

    assert numbers() == ["ESP-1"]
    assert numbers(include_deleted=True) == ["ESP-1", "TEA-1"]
    assert numbers("espresso") == ["ESP-1"]
    assert numbers("tea", include_deleted=True) == ["TEA-1"]


def searched(entity_name: str, q: str) -> list[str]:
    """The keys of the live rows a search finds, in key order."""
    entity = get_entity(entity_name)
    rows = db.session.scalars(services.rows_query(entity, q))
    return [entity.key_text(entity.row_key(row)) for row in rows]


def test_search_matches_inside_numbers_and_names_in_any_case():
    services.bulk_upsert(
        "product",
        [product("ESP-1", name="Double Espresso"), product("tea-2", name="Green Tea")],
    )
    services.bulk_upsert("trade_agreement", [price("ESP-1"), price("tea-2")])
    db.session.commit()

    assert searched("product", "SPRESS") == ["ESP-1"]
    assert searched("product", "TEA-") == ["tea-2"]
    assert searched("product", "  green t ") == ["tea-2"]
    assert searched("product", "e") == ["ESP-1", "tea-2"]
    assert searched("product", "latte") == []
    # A table without a name searches the text parts of its key.
    assert searched("trade_agreement", "sp-1") == ["RETAIL / ESP-1 / 2026-01-01"]
    assert len(searched("trade_agreement", "retail")) == 2


def test_search_takes_percent_underscore_and_backslash_as_typed():
    services.bulk_upsert(
        "product",
        [
            product("P1", name="100% Arabica"),
            product("P2", name="1000 Arabica beans"),
            product("COLD_BREW", name="Cold brew"),
            product("COLDXBREW", name="Cold brew, extra"),
            product("P3", name="Tea\\Herbal"),
        ],
    )
    db.session.commit()

    assert searched("product", "100%") == ["P1"]
    assert searched("product", "%") == ["P1"]
    assert searched("product", "d_b") == ["COLD_BREW"]
    assert searched("product", "_") == ["COLD_BREW"]
    assert searched("product", "a\\h") == ["P3"]


def test_search_of_a_large_table_can_use_its_trigram_indexes():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's")
    cases = {
        "product": {"ix_product_product_number_trgm", "ix_product_name_trgm"},
        "barcode": {"ix_barcode_barcode_trgm"},
        "trade_agreement": {
            "ix_trade_agreement_price_group_trgm",
            "ix_trade_agreement_product_number_trgm",
        },
    }
    # A handful of test rows are read faster without an index: forbid reading the whole table
    # (or a whole key index), so the plan shows whether the trigram indexes answer the search.
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    db.session.execute(sa.text("SET LOCAL enable_indexscan = off"))
    for name, indexes in cases.items():
        stmt = services.rows_query(get_entity(name), "50% off_")
        sql = stmt.compile(db.session.connection(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN {sql}")))
        assert all(f"Bitmap Index Scan on {index}" in plan for index in indexes), plan
    db.session.rollback()


def test_single_row_create_refuses_a_live_key_and_update_keeps_the_key():
    row = services.create_row("product", product("P1"))
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        services.create_row("product", product("P1"))
    db.session.rollback()
    assert caught.value.fields == {"product_number": "Already taken."}

    services.update_row("product", row.id, {"product_number": "P2", "name": "Beans"})
    db.session.commit()

    assert db.session.execute(sa.select(Product.product_number, Product.name)).all() == [
        ("P1", "Beans")
    ]
    (create, update) = audit_entries("product")
    assert (create.action, create.entity_key) == ("create", "P1")
    assert (update.action, update.before, update.after) == (
        "update",
        {"name": "Product P1"},
        {"name": "Beans"},
    )
