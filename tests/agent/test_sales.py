"""Sales recorded from the local data: the store's products, prices, tax, staff and payments."""

from decimal import Decimal

import pytest

from portal.agent import sales
from portal.agent.apply import apply_package
from portal.agent.errors import UsageError
from portal.transactions import validation
from tests.agent.conftest import write_package

CONFIG = {
    "store": {
        "store_number": "HOUSTON",
        "currency": "USD",
        "time_zone": "America/Chicago",
        "tax_group": "TX",
        "price_group": "RETAIL",
        "assortment": "HOUSTON-A",
    },
    "register": {"register_number": "HOUSTON-1", "support_offline": True},
}


def table(key, *rows):
    return {"key": key, "columns": list(rows[0]), "lines": [("upsert", row) for row in rows]}


def price(number, group, unit_price, valid_from="2024-01-01", valid_to=None):
    return {
        "price_group": group,
        "product_number": number,
        "unit_price": unit_price,
        "currency": "USD",
        "valid_from": valid_from,
        "valid_to": valid_to,
    }


@pytest.fixture
def houston(state, tmp_path):
    """A register's data: three products, two in its assortment, prices, tax and staff."""
    state.put(url="http://portal.test", token="hqd_x", config=CONFIG)
    tables = {
        "product": table(
            ["product_number"],
            *(
                {"product_number": n, "item_tax_group": g, "base_price": "1.0000"}
                for n, g in (("P1", "STANDARD"), ("P2", "FOOD"), ("P3", "STANDARD"))
            ),
        ),
        "assortment_line": table(
            ["assortment_code", "product_number"],
            {"assortment_code": "HOUSTON-A", "product_number": "P1"},
            {"assortment_code": "HOUSTON-A", "product_number": "P2"},
            {"assortment_code": "SEATTLE-A", "product_number": "P3"},
        ),
        "trade_agreement": table(
            ["price_group", "product_number", "valid_from"],
            price("P1", "RETAIL", "4.9900"),
            price("P1", "RETAIL", "5.4900", "2025-01-01"),  # the latest valid price wins
            price("P1", "RETAIL", "9.9900", "2099-01-01"),  # not yet valid
            price("P1", "OUTLET", "3.0000"),
            price("P2", "OUTLET", "2.0000"),  # no RETAIL price: the base price
        ),
        "sales_tax_group": table(["code"], {"code": "TX", "tax_codes": '["TX-STATE", "TX-HOU"]'}),
        "item_tax_group": table(
            ["code"],
            {"code": "STANDARD", "tax_codes": '["TX-STATE", "TX-HOU", "WA-STATE"]'},
            {"code": "FOOD", "tax_codes": "[]"},
        ),
        "tax_rate": table(
            ["tax_code", "valid_from"],
            {
                "tax_code": "TX-STATE",
                "valid_from": "2024-01-01",
                "valid_to": None,
                "rate": "6.2500",
            },
            {"tax_code": "TX-HOU", "valid_from": "2024-01-01", "valid_to": None, "rate": "2.0000"},
        ),
        "worker": table(["staff_id"], {"staff_id": "000160", "name": "Jo"}),
        "payment_method": table(
            ["code"],
            {"code": "CASH", "allowed_offline": "t"},
            {"code": "CARD", "allowed_offline": "f"},
            {"code": "GIFT-CARD", "allowed_offline": "f"},
        ),
    }
    path = write_package(tmp_path / "1.zip", "full", tables)
    apply_package(state, path, {"id": 1, "job": "ALL", "kind": "full", "sha256": ""})
    return state


def test_sales_use_the_stores_products_prices_and_tax(houston):
    sold = sales.sell(houston, 20, offline=True, seed=7)

    products = {line["product"] for sale in sold for line in sale["lines"]}
    assert products == {"P1", "P2"}  # P3 is not in HOUSTON's assortment
    for sale in sold:
        for line in sale["lines"]:
            quantity = Decimal(line["quantity"])
            if line["product"] == "P1":
                assert line["unit_price"] == "5.49"
                assert line["tax_code"] == "TX-STATE+TX-HOU"
                net = quantity * Decimal("5.49")
                expected = (net * Decimal("0.0625")).quantize(Decimal("0.01")) + (
                    net * Decimal("0.02")
                ).quantize(Decimal("0.01"))
                assert Decimal(line["tax_amount"]) == expected
            else:
                assert (line["unit_price"], line["tax_code"], line["tax_amount"]) == (
                    "1.00",
                    "",
                    "0.00",
                )
        assert sale["staff"] == "000160"
        assert sale["offline"] is True
        assert sale["payments"][0]["method"] == "CASH"  # the only one allowed offline
        assert sale["payments"][0]["amount"] == sale["total"]
        # The portal's own checks of an upload accept every sale.
        checked, errors = validation.check(sale)
        assert errors == {} and checked.total == Decimal(sale["total"])
        assert sale["created_at"].endswith(("-05:00", "-06:00"))


def test_each_sale_takes_the_registers_next_sequence_and_receipt_number(houston):
    first = sales.sell(houston, 2, offline=False)
    second = sales.sell(houston, 1, offline=True)

    assert [s["sequence"] for s in first + second] == [1, 2, 3]
    assert [s["receipt_number"] for s in first + second] == [
        "HOUSTON-1-000001",
        "HOUSTON-1-000002",
        "HOUSTON-1-000003",
    ]
    assert len({s["transaction_id"] for s in first + second}) == 3
    assert {p["method"] for s in sales.sell(houston, 30, offline=False) for p in s["payments"]} == {
        "CASH",
        "CARD",
    }
    assert houston.pending_uploads() == 33
    assert houston.get("offline_since") is not None


def test_selling_needs_data_and_the_own_register(state, houston):
    with pytest.raises(UsageError, match="not HOUSTON-2's"):
        sales.sell(houston, 1, offline=True, register="HOUSTON-2")
    with pytest.raises(UsageError, match="at least 1"):
        sales.sell(houston, 0, offline=True)
    houston.conn.execute("DELETE FROM product")
    with pytest.raises(UsageError, match="run 'sync' first"):
        sales.sell(houston, 1, offline=True)


def test_a_store_database_sells_on_its_registers(state, tmp_path):
    state.put(config={**CONFIG, "register": None})
    tables = {
        "product": table(["product_number"], {"product_number": "P1", "base_price": "2.5000"}),
        "register_hardware": table(
            ["register_number"],
            {"register_number": "HOUSTON-2", "store_number": "HOUSTON"},
            {"register_number": "HOUSTON-1", "store_number": "HOUSTON"},
        ),
    }
    apply_package(state, write_package(tmp_path / "1.zip", "full", tables), {"id": 1, "job": "x"})

    assert sales.sell(state, 1, offline=False)[0]["register"] == "HOUSTON-1"
    assert sales.sell(state, 1, offline=False, register="HOUSTON-2")[0]["sequence"] == 1
    with pytest.raises(UsageError, match="not one of store HOUSTON's"):
        sales.sell(state, 1, offline=False, register="SEATTLE-1")
