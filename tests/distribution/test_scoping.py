"""Store scoping by assortment, price group and staff, in full and incremental packages."""

from datetime import date
from decimal import Decimal

import pytest

from portal.core.extensions import db
from portal.distribution import services as distribution
from portal.masterdata import services as masterdata
from portal.masterdata.people import Worker, WorkerStore
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import AssortmentLine, Barcode, Product
from tests.distribution.conftest import package_lines, run_schedule
from tests.factories import GroupFactory, StoreFactory

PRODUCT_KEY = ("product_number",)
LINE_KEY = ("assortment_code", "product_number")


@pytest.fixture
def catalogue(app_ctx):
    """Two stores: HOUSTON sells assortment TX-A at price group RETAIL; OUTLET sells everything."""
    distribution.ensure_standard_jobs()
    GroupFactory(name="Stores")
    StoreFactory(
        store_number="HOUSTON",
        channel_data_group="Stores",
        assortment="TX-A",
        price_group="RETAIL",
    )
    StoreFactory(store_number="OUTLET", channel_data_group="Stores")
    products = [
        {"product_number": n, "name": f"Product {n}", "base_price": Decimal("1")}
        for n in ("P1", "P2", "P3")
    ]
    masterdata.upsert(Product, PRODUCT_KEY, products)
    masterdata.upsert(
        Barcode,
        ("barcode",),
        [{"barcode": f"000{n}", "product_number": f"P{n}"} for n in (1, 2, 3)],
    )
    masterdata.upsert(
        AssortmentLine,
        LINE_KEY,
        [{"assortment_code": "TX-A", "product_number": n} for n in ("P1", "P2")],
    )
    masterdata.upsert(
        TradeAgreement,
        ("price_group", "product_number", "valid_from"),
        [
            {
                "price_group": group,
                "product_number": "P1",
                "unit_price": Decimal(price),
                "currency": "USD",
                "valid_from": date(2026, 1, 1),
            }
            for group, price in (("RETAIL", "4.99"), ("OUTLET", "3.99"))
        ],
    )
    masterdata.upsert(Worker, ("staff_id",), [{"staff_id": "000160", "name": "Jo"}])
    masterdata.upsert(
        WorkerStore,
        ("staff_id", "store_number"),
        [{"staff_id": "000160", "store_number": "HOUSTON"}],
    )
    distribution.create_schedule(
        {"code": "DAILY", "jobs": ["1020", "1040", "1060"], "groups": ["Stores"]}
    )
    db.session.commit()


def keys(lines: list[dict], field: str) -> list[tuple[str, str]]:
    return [(line["op"], line["key"][field]) for line in lines]


@pytest.fixture
def houston_lines():
    def lines(run) -> dict[str, list[dict]]:
        sessions = [
            s for s in sessions_by_database_all(run) if s.channel_database.name == "HOUSTON"
        ]
        merged: dict[str, list[dict]] = {}
        for session in sessions:
            if session.package is not None:
                merged.update(package_lines(session))
        return merged

    return lines


def sessions_by_database_all(run):
    from portal.distribution.models import DownloadSession

    return list(db.session.scalars(db.select(DownloadSession).filter_by(run_id=run.id)))


pytestmark = pytest.mark.usefixtures("catalogue")


def test_full_package_holds_the_assortment_price_group_and_staff_of_the_store(houston_lines):
    lines = houston_lines(run_schedule("DAILY"))
    assert keys(lines["product"], "product_number") == [("upsert", "P1"), ("upsert", "P2")]
    assert keys(lines["barcode"], "barcode") == [("upsert", "0001"), ("upsert", "0002")]
    assert [line["row"]["unit_price"] for line in lines["trade_agreement"]] == ["4.9900"]
    assert keys(lines["worker"], "staff_id") == [("upsert", "000160")]


def test_store_without_assortment_gets_every_product_and_no_foreign_staff():
    run = run_schedule("DAILY")
    outlet = [s for s in sessions_by_database_all(run) if s.channel_database.name == "OUTLET"]
    lines = {}
    for session in outlet:
        lines.update(package_lines(session))
    assert [line["key"]["product_number"] for line in lines["product"]] == ["P1", "P2", "P3"]
    assert lines["worker"] == []


def test_product_joining_the_assortment_arrives_although_unchanged(houston_lines):
    run_schedule("DAILY")
    masterdata.upsert(
        AssortmentLine, LINE_KEY, [{"assortment_code": "TX-A", "product_number": "P3"}]
    )
    db.session.commit()
    lines = houston_lines(run_schedule("DAILY"))
    assert keys(lines["product"], "product_number") == [("upsert", "P3")]
    assert keys(lines["barcode"], "barcode") == [("upsert", "0003")]


def test_product_leaving_the_assortment_is_deleted_on_the_target(houston_lines):
    run_schedule("DAILY")
    masterdata.delete(
        AssortmentLine, LINE_KEY, [{"assortment_code": "TX-A", "product_number": "P1"}]
    )
    db.session.commit()
    lines = houston_lines(run_schedule("DAILY"))
    assert keys(lines["product"], "product_number") == [("delete", "P1")]
    assert keys(lines["barcode"], "barcode") == [("delete", "0001")]
    assert keys(lines["trade_agreement"], "product_number") == [("delete", "P1")]


def test_changes_outside_the_assortment_do_not_reach_the_store(houston_lines):
    run_schedule("DAILY")
    masterdata.upsert(Product, PRODUCT_KEY, [{"product_number": "P3", "name": "Renamed"}])
    masterdata.upsert(Product, PRODUCT_KEY, [{"product_number": "P2", "name": "Renamed too"}])
    db.session.commit()
    lines = houston_lines(run_schedule("DAILY"))
    assert [(op, key) for op, key in keys(lines["product"], "product_number")] == [("upsert", "P2")]
    assert lines["product"][0]["row"]["name"] == "Renamed too"


def test_staff_moving_to_another_store_disappears_from_the_old_one(houston_lines):
    run_schedule("DAILY")
    masterdata.delete(
        WorkerStore,
        ("staff_id", "store_number"),
        [{"staff_id": "000160", "store_number": "HOUSTON"}],
    )
    db.session.commit()
    lines = houston_lines(run_schedule("DAILY"))
    assert keys(lines["worker"], "staff_id") == [("delete", "000160")]
    assert keys(lines["worker_store"], "staff_id") == [("delete", "000160")]
