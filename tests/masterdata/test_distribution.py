"""Master data changes reach the stores: tombstones as deletions, Core bulk rows by version."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution import services as distribution
from portal.masterdata import demo_products as catalogue
from portal.masterdata import services
from portal.masterdata.products import Barcode, Product
from tests.distribution.conftest import package_lines, run_schedule, sessions_by_database
from tests.factories import GroupFactory, StoreFactory
from tests.masterdata.conftest import product


@pytest.fixture
def products_schedule(reference):
    """Store HOUSTON (no assortment: every product) in group Stores, and schedule 1040."""
    distribution.ensure_standard_jobs()
    GroupFactory(name="Stores")
    StoreFactory(store_number="HOUSTON", channel_data_group="Stores")
    distribution.create_schedule({"code": "1040", "jobs": ["1040"], "groups": ["Stores"]})
    db.session.commit()


pytestmark = pytest.mark.usefixtures("products_schedule")


def houston_lines() -> tuple[str, dict[str, list[dict]]]:
    session = sessions_by_database(run_schedule("1040"))["HOUSTON"]
    return session.kind, package_lines(session)


def test_a_bulk_delete_travels_as_a_deletion_in_the_next_incremental_package():
    services.bulk_upsert("product", [product("P1"), product("P2")])
    db.session.commit()
    kind, lines = houston_lines()
    assert kind == "full"
    assert [line["key"]["product_number"] for line in lines["product"]] == ["P1", "P2"]

    services.bulk_delete("product", ["P2"])
    db.session.commit()
    kind, lines = houston_lines()

    assert kind == "incremental"
    assert lines["product"] == [{"op": "delete", "key": {"product_number": "P2"}}]


def test_a_bulk_update_travels_with_only_the_changed_rows():
    services.bulk_upsert("product", [product("P1"), product("P2")])
    db.session.commit()
    houston_lines()

    services.bulk_upsert("product", [product("P1"), product("P2", name="Dark roast")])
    db.session.commit()
    _, lines = houston_lines()

    assert [(line["op"], line["row"]["name"]) for line in lines["product"]] == [
        ("upsert", "Dark roast")
    ]


def test_core_bulk_inserts_are_stamped_so_the_next_incremental_package_carries_them():
    services.bulk_upsert("product", [product("P1")])
    db.session.commit()
    houston_lines()

    catalogue.seed_products(3, ["HOUSTON"])
    db.session.commit()
    kind, lines = houston_lines()

    assert kind == "incremental"
    numbers = [line["key"]["product_number"] for line in lines["product"]]
    assert numbers == ["P0000001", "P0000002", "P0000003"]
    barcodes = {line["row"]["product_number"] for line in lines["barcode"]}
    assert barcodes == set(numbers)
    assert {line["op"] for line in lines["product"] + lines["barcode"]} == {"upsert"}


def test_each_chunk_of_the_core_path_commits_with_its_own_version(monkeypatch):
    monkeypatch.setattr(catalogue, "CHUNK", 2)
    messages = []

    def checkpoint(message):
        db.session.commit()
        messages.append(message)

    summary = catalogue.seed_products(5, ["HOUSTON"], checkpoint)

    assert summary.startswith("5 demo product(s) added")
    assert messages == [
        "2 product(s) added: 2 of 5",
        "2 product(s) added: 4 of 5",
        "1 product(s) added: 5 of 5",
    ]
    stmt = sa.select(Product.product_number, Product.row_version)
    versions = dict(db.session.execute(stmt).all())
    assert versions["P0000001"] == versions["P0000002"] < versions["P0000003"]
    assert versions["P0000003"] == versions["P0000004"] < versions["P0000005"]
    barcode = db.session.scalar(sa.select(Barcode).filter_by(product_number="P0000005"))
    assert barcode.row_version == versions["P0000005"]
    assert catalogue.seed_products(5, ["HOUSTON"], checkpoint).startswith("0 demo product(s)")
    assert len(messages) == 3
