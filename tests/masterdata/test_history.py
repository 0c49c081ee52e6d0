"""Price history: every version of trade agreements, base prices and tax rates, however changed."""

import io
from datetime import date

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata import csv_import, services
from portal.masterdata.demo_products import seed_products
from portal.masterdata.history import (
    KEPT,
    ProductPriceHistory,
    TaxRateHistory,
    TradeAgreementHistory,
)
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import Product
from portal.masterdata.tax import TaxRate
from tests.masterdata.conftest import price, product

pytestmark = pytest.mark.usefixtures("reference")

URL = "/api/v1/masterdata"
ROWS = {"trade_agreement": TradeAgreement, "product": Product, "tax_rate": TaxRate}


def base_prices() -> list[tuple]:
    """The base price entries, oldest first: (product, price, deleted, version)."""
    db.session.expire_all()
    stmt = sa.select(ProductPriceHistory).order_by(ProductPriceHistory.id)
    return [
        (e.product_number, f"{e.base_price:.2f}", e.deleted, e.row_version)
        for e in db.session.scalars(stmt)
    ]


def agreements() -> list[tuple]:
    """The trade agreement entries, oldest first: (product, start, price, deleted, version)."""
    db.session.expire_all()
    stmt = sa.select(TradeAgreementHistory).order_by(TradeAgreementHistory.id)
    return [
        (e.product_number, e.valid_from, f"{e.unit_price:.2f}", e.deleted, e.row_version)
        for e in db.session.scalars(stmt)
    ]


def assert_latest_entries_are_the_rows() -> None:
    """Each row's latest entry holds the row as it is; a key no row has is deleted at last."""
    for table, (model, columns, key_length) in KEPT.items():
        names = (*columns, "deleted", "row_version")
        rows = db.session.execute(sa.select(*(getattr(ROWS[table], n) for n in names)))
        current = {tuple(row[:key_length]): tuple(row) for row in rows}
        latest = {}
        entries = sa.select(*(getattr(model, n) for n in names)).order_by(model.id)
        for entry in db.session.execute(entries):
            latest[tuple(entry[:key_length])] = tuple(entry)
        gone = {key: entry for key, entry in latest.items() if key not in current}
        assert {key: latest.get(key) for key in current} == current, table
        assert all(entry[-2] for entry in gone.values()), table


def version_of(response) -> int:
    assert response.status_code == 200, response.json
    return response.json["version"]


def test_the_bulk_api_records_new_rows_price_changes_and_deletions(client, token_for):
    headers = token_for("hq")

    def post(path: str, body: dict) -> int:
        return version_of(client.post(f"{URL}/{path}", json=body, headers=headers))

    added = post("product", {"rows": [product("P1", base_price="2.50"), product("P2")]})
    priced = post("trade_agreement", {"rows": [price("P1", "4.99")]})
    changed = post(
        "product", {"rows": [product("P1", base_price="3.00"), product("P2", name="Renamed")]}
    )
    repriced = post("trade_agreement", {"rows": [price("P1", "5.25", valid_to="2026-12-31")]})
    deleted = post("product/delete", {"keys": ["P2"]})
    key = {"price_group": "RETAIL", "product_number": "P1", "valid_from": "2026-01-01"}
    unpriced = post("trade_agreement/delete", {"keys": [key]})

    # A new name leaves the price as it was: P2's rename is no entry.
    assert base_prices() == [
        ("P1", "2.50", False, added),
        ("P2", "0.00", False, added),
        ("P1", "3.00", False, changed),
        ("P2", "0.00", True, deleted),
    ]
    start = date(2026, 1, 1)
    assert agreements() == [
        ("P1", start, "4.99", False, priced),
        ("P1", start, "5.25", False, repriced),
        ("P1", start, "5.25", True, unpriced),
    ]
    assert_latest_entries_are_the_rows()


def test_a_csv_import_records_its_rows_in_its_one_version():
    services.bulk_upsert("product", [product("P1", base_price="1"), product("P2")])
    db.session.commit()
    text = "op,product_number,name,base_price\nupsert,P1,Espresso,1.50\ndelete,P2,,\n,P3,New,2\n"

    outcome = csv_import.import_csv("product", io.BytesIO(text.encode()))
    db.session.commit()

    assert sorted(base_prices()[2:]) == [
        ("P1", "1.50", False, outcome.version),
        ("P2", "0.00", True, outcome.version),
        ("P3", "2.00", False, outcome.version),
    ]
    assert_latest_entries_are_the_rows()


def test_the_row_forms_record_creates_edits_and_deletes(client, login):
    services.bulk_upsert("product", [product("P1")])
    services.bulk_upsert("trade_agreement", [price("P1", "4.99")])
    db.session.commit()
    login("hq")
    agreement = db.session.scalar(sa.select(TradeAgreement))

    created = client.post(
        "/masterdata/product/new",
        data={"product_number": "P9", "name": "Cold brew", "unit": "pcs", "base_price": "3.49"},
    )
    edited = client.post(
        f"/masterdata/trade_agreement/rows/{agreement.id}/edit",
        data={"unit_price": "5.25", "currency": "USD", "valid_to": ""},
    )
    deleted = client.post(f"/masterdata/trade_agreement/rows/{agreement.id}/delete")

    assert (created.status_code, edited.status_code, deleted.status_code) == (302, 302, 302)
    assert [(p, price, gone) for p, price, gone, _ in base_prices()[1:]] == [("P9", "3.49", False)]
    assert [(price, gone) for _, _, price, gone, _ in agreements()] == [
        ("4.99", False),
        ("5.25", False),
        ("5.25", True),
    ]
    versions = [version for *_, version in agreements()]
    assert versions == sorted(set(versions))
    assert_latest_entries_are_the_rows()


def test_an_agreement_moved_to_another_start_is_gone_from_the_old_one():
    services.bulk_upsert("product", [product("P1")])
    services.bulk_upsert("trade_agreement", [price("P1", "4.99")])
    db.session.commit()
    agreement = db.session.scalar(sa.select(TradeAgreement))

    agreement.valid_from = date(2026, 2, 1)
    db.session.commit()

    assert [(start, gone) for _, start, _, gone, _ in agreements()] == [
        (date(2026, 1, 1), False),
        (date(2026, 1, 1), True),
        (date(2026, 2, 1), False),
    ]
    assert_latest_entries_are_the_rows()


def test_the_demo_catalogue_records_its_products_and_prices_as_it_inserts_them():
    seed_products(30, [])
    db.session.commit()
    product_version = db.session.scalar(sa.select(sa.func.max(Product.row_version)))

    assert len(base_prices()) == 30 and len(agreements()) == 60
    assert {version for *_, version in base_prices()} == {product_version}
    assert_latest_entries_are_the_rows()


def test_tax_rates_keep_every_version():
    rate = {"tax_code": "TX-STATE", "valid_from": "2024-01-01"}
    first = services.bulk_upsert("tax_rate", [rate | {"rate": "6.25"}]).version
    changed = services.bulk_upsert("tax_rate", [rate | {"rate": "6.50"}]).version
    gone = services.bulk_delete("tax_rate", [rate]).version
    db.session.commit()

    entries = db.session.scalars(sa.select(TaxRateHistory).order_by(TaxRateHistory.id))
    assert [(f"{e.rate:.2f}", e.deleted, e.row_version) for e in entries] == [
        ("6.25", False, first),
        ("6.50", False, changed),
        ("6.50", True, gone),
    ]
    assert_latest_entries_are_the_rows()
