"""The price check against the price a register had: rows as they were at its watermark."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.auditor.models import PRICE_MISMATCH, TAX_MISMATCH
from portal.auditor.price_lists import seen_versions
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.masterdata.history import ProductPriceHistory
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import Product
from portal.masterdata.tax import TaxRate
from portal.masterdata.versioning import committed_version, tombstone
from portal.setup.stores import services as stores_services
from tests.auditor.test_rules import applied, found, one_line, sequence_of
from tests.transactions.conftest import made, send

pytestmark = pytest.mark.usefixtures("app_ctx")


def cola(base_price: str = "4.99") -> Product:
    """Product P-1001, committed."""
    product = Product(product_number="P-1001", name="Cola", base_price=Decimal(base_price))
    db.session.add(product)
    db.session.commit()
    return product


def priced(unit_price: str) -> TradeAgreement:
    """P-1001 at 4.99 base and `unit_price` in HOUSTON's price group STD for ten days."""
    stores_services.get_store("HOUSTON").price_group = "STD"
    cola()
    agreement = TradeAgreement(
        price_group="STD",
        product_number="P-1001",
        unit_price=Decimal(unit_price),
        currency="USD",
        valid_from=utcnow().date() - timedelta(days=10),
    )
    db.session.add(agreement)
    db.session.commit()
    return agreement


def received(at) -> None:
    """HOUSTON-1's offline database applied every change so far, at `at`."""
    applied("HOUSTON-1", committed_version(db.session.connection()), at)


def expected_prices() -> dict[tuple[str, int], tuple[str, str]]:
    """Each price mismatch's expected price and its source, by register and sequence."""
    return {
        (a.register.register_number, sequence_of(a)): (a.detail["expected"], a.detail["source"])
        for a in found(PRICE_MISMATCH)
    }


def sold_at(unit_price: str, **sale) -> dict:
    """A sale of two P-1001 at this price (its tax code has no rate: tax is not checked)."""
    return made(**sale | one_line(unit_price, "0.00"))


def test_a_price_changed_after_the_registers_packages_is_judged_as_the_register_had_it(
    client, store_device
):
    now = utcnow()
    agreement = priced("5.49")
    received(now - timedelta(hours=3))
    agreement.unit_price = Decimal("5.79")
    db.session.commit()
    received(now - timedelta(hours=2))
    agreement.unit_price = Decimal("5.99")  # after the register's last package
    db.session.commit()

    # One batch, three watermarks: two of HOUSTON-1's offline database and none (online).
    send(
        client,
        store_device,
        sold_at("5.49", sequence=1, ago=timedelta(minutes=150)),
        sold_at("5.79", sequence=2, ago=timedelta(minutes=150)),
        sold_at("5.79", sequence=3, ago=timedelta(hours=1)),
        sold_at("5.99", sequence=4, ago=timedelta(hours=1)),
        # The store's database has no package history: HQ's current price counts.
        sold_at("5.79", register="HOUSTON-2", offline=False),
    )

    assert expected_prices() == {
        ("HOUSTON-1", 2): ("5.4900", "trade_agreement"),
        ("HOUSTON-1", 4): ("5.7900", "trade_agreement"),
        ("HOUSTON-2", 1): ("5.9900", "trade_agreement"),
    }


def test_a_base_price_changed_since_is_compared_with_the_old_one(client, register_device):
    product = cola("4.99")
    received(utcnow() - timedelta(hours=2))
    product.base_price, product.name = Decimal("5.29"), "Cola 0.5 l"
    db.session.commit()

    send(client, register_device, sold_at("4.99", sequence=1), sold_at("5.29", sequence=2))

    assert expected_prices() == {("HOUSTON-1", 2): ("4.9900", "base_price")}


def test_a_price_deleted_after_the_watermark_still_counts_as_it_was(
    client, register_device, store_device
):
    agreement = priced("5.49")
    received(utcnow() - timedelta(hours=2))
    tombstone(agreement)
    db.session.commit()

    send(client, register_device, sold_at("5.49", sequence=1), sold_at("4.99", sequence=2))
    # Online: the store's database has HQ's rows as they are, without the agreement.
    send(client, store_device, sold_at("5.49", register="HOUSTON-2", offline=False))

    assert expected_prices() == {
        ("HOUSTON-1", 2): ("5.4900", "trade_agreement"),
        ("HOUSTON-2", 1): ("4.9900", "base_price"),
    }


def test_a_price_added_back_after_a_deletion_counts_only_from_its_new_version(
    client, register_device
):
    agreement = priced("5.49")
    tombstone(agreement)
    db.session.commit()
    received(utcnow() - timedelta(hours=2))
    agreement.deleted = False
    db.session.commit()

    send(client, register_device, sold_at("4.99", sequence=1), sold_at("5.49", sequence=2))

    assert expected_prices() == {("HOUSTON-1", 2): ("4.9900", "base_price")}


def test_only_the_versions_some_watermark_sees_are_read():
    product = cola("1.00")
    versions = [product.row_version]
    for price in ("2.00", "3.00", "4.00", "5.00"):
        product.base_price = Decimal(price)
        db.session.commit()
        versions.append(product.row_version)

    def read(*marks) -> list[str]:
        where = (ProductPriceHistory.product_number == "P-1001",)
        stmt = seen_versions(
            ProductPriceHistory, ("product_number",), ("base_price",), where, set(marks)
        )
        return [f"{price:.2f}" for _, price, _, _ in db.session.execute(stmt)]

    assert read(versions[1], versions[3]) == ["2.00", "3.00", "4.00"]
    assert read(versions[1], None) == ["2.00", "3.00", "4.00", "5.00"]
    assert read(None) == ["5.00"]
    assert read(versions[0] - 1) == []
    assert read(versions[0] - 1, versions[0]) == ["1.00"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductPriceHistory)) == 5


def test_a_tax_rate_changed_after_the_registers_packages_is_judged_as_the_register_had_it(
    client, register_device, store_device
):
    rate = TaxRate(tax_code="VAT20", rate=Decimal("20"), valid_from=date(2020, 1, 1))
    db.session.add(rate)
    db.session.commit()
    applied(
        "HOUSTON-1",
        committed_version(db.session.connection()),
        utcnow() - timedelta(hours=2),
        ("1080",),
    )
    rate.rate = Decimal("25")  # after the register's last sales tax package
    db.session.commit()

    send(
        client,
        register_device,
        made(sequence=1, **one_line("5.49", "2.20")),
        made(sequence=2, **one_line("5.49", "2.75")),
    )
    # The store's database has no package history: HQ's current rate counts.
    send(
        client, store_device, made(register="HOUSTON-2", offline=False, **one_line("5.49", "2.20"))
    )

    assert {
        (a.register.register_number, sequence_of(a)): (a.detail["expected"], a.detail["found"])
        for a in found(TAX_MISMATCH)
    } == {("HOUSTON-1", 2): ("2.20", "2.75"), ("HOUSTON-2", 1): ("2.75", "2.20")}


def test_one_batch_judges_each_sale_by_the_tax_rates_its_own_database_had(client, store_device):
    # The store's device sends, in one batch, a sale HOUSTON-1 made offline (its offline
    # database had the 20 % rate) and one made online (the store's database has no package
    # history: the current 25 % counts), same day, same code: each is judged by its own.
    rate = TaxRate(tax_code="VAT20", rate=Decimal("20"), valid_from=date(2020, 1, 1))
    db.session.add(rate)
    db.session.commit()
    applied(
        "HOUSTON-1",
        committed_version(db.session.connection()),
        utcnow() - timedelta(hours=2),
        ("1080",),
    )
    rate.rate = Decimal("25")
    db.session.commit()

    send(
        client,
        store_device,
        made(sequence=1, **one_line("5.49", "2.20")),
        made(sequence=2, offline=False, **one_line("5.49", "2.20")),
        made(sequence=3, **one_line("5.49", "2.75")),
        made(sequence=4, offline=False, **one_line("5.49", "2.75")),
    )

    assert {
        sequence_of(a): (a.detail["expected"], a.detail["found"]) for a in found(TAX_MISMATCH)
    } == {2: ("2.75", "2.20"), 3: ("2.20", "2.75")}
