"""Benchmark data, made with the services and the demo catalogue generator HQ staff also use."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.masterdata import services as masterdata
from portal.masterdata.demo_products import ITEM_TAX_GROUP, assortment_code, seed_products
from portal.masterdata.prices import Currency, PriceGroup
from portal.masterdata.products import Assortment
from portal.masterdata.tax import ItemTaxGroup, SalesTaxGroup, TaxCode, TaxRate
from portal.setup.channels import services as channels
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores


def catalogue(products: int, store_number: str = "BENCH") -> None:
    """A store whose assortment lists every one of `products` demo products (with prices)."""
    distribution.ensure_standard_jobs()
    store_references(store_number)
    channels.create_group("Bench", "Benchmark stores")
    offline_profiles.create_profile({"name": "Bench offline"})
    stores.create_store(
        {
            "store_number": store_number,
            "name": "Benchmark store",
            "currency": "USD",
            "tax_group": "TX",
            "time_zone": "America/Chicago",
            "channel_data_group": "Bench",
            "offline_profile": "Bench offline",
            "assortment": assortment_code(store_number),
            "price_group": "RETAIL",
        }
    )
    db.session.commit()
    seed_products(products, [store_number], checkpoint=lambda _: db.session.commit())
    db.session.commit()
    # Fresh statistics, as autovacuum would have gathered on a live database by now.
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def store_references(store_number: str) -> None:
    """The master data a benchmark store names: USD, tax group TX, RETAIL and its assortment."""
    tax_data()
    masterdata.upsert(Currency, ("code",), [{"code": "USD", "name": "US dollar"}])
    masterdata.upsert(PriceGroup, ("code",), [{"code": "RETAIL", "name": "Retail"}])
    assortment = {"code": assortment_code(store_number), "name": f"{store_number} range"}
    masterdata.upsert(Assortment, ("code",), [assortment])
    db.session.commit()


def tax_data() -> None:
    """The sales tax rows job 1080 carries."""
    masterdata.upsert(TaxCode, ("code",), [{"code": "TX-STATE", "name": "Texas"}])
    masterdata.upsert(
        TaxRate,
        ("tax_code", "valid_from"),
        [{"tax_code": "TX-STATE", "rate": Decimal("6.25"), "valid_from": date(2024, 1, 1)}],
    )
    masterdata.upsert(
        SalesTaxGroup, ("code",), [{"code": "TX", "name": "Texas", "tax_codes": ["TX-STATE"]}]
    )
    # The group the demo products name: without it a register sells them untaxed.
    masterdata.upsert(
        ItemTaxGroup,
        ("code",),
        [{"code": ITEM_TAX_GROUP, "name": "Standard rated goods", "tax_codes": ["TX-STATE"]}],
    )
    db.session.commit()


def stores_with_offline_registers(count: int, registers_each: int, group: str) -> None:
    """`count` stores in `group`, each with registers that support offline."""
    for index in range(count):
        number = f"S{index:05d}"
        stores.create_store(
            {
                "store_number": number,
                "name": f"Store {index}",
                "currency": "USD",
                "tax_group": "TX",
                "time_zone": "America/Chicago",
                "channel_data_group": group,
                "offline_profile": "Bench offline",
            }
        )
        for register in range(1, registers_each + 1):
            registers.create_register(
                {
                    "register_number": f"{number}-{register}",
                    "store": number,
                    "support_offline": True,
                }
            ).offline_database.activated_at = utcnow()
        db.session.commit()


def schedule(code: str, jobs: list[str], groups: list[str]) -> None:
    """A distribution schedule for the benchmark."""
    distribution.create_schedule({"code": code, "jobs": jobs, "groups": groups})
    db.session.commit()


def run(code: str, full: bool = False) -> int:
    """Request, plan and build a run in this process, as the workers would; returns rows."""
    requested = runs.request_run(distribution.get_schedule(code), full)
    db.session.commit()
    session_ids = runs.plan_run(requested.id)
    db.session.commit()
    for batch in builds.batches(session_ids):
        builds.build_sessions(batch)
        db.session.commit()
    db.session.refresh(requested)
    return requested.rows_written


def tax_data_change() -> None:
    """Change the Texas rate, so the next 1080 run has new content to build."""
    masterdata.upsert(
        TaxRate,
        ("tax_code", "valid_from"),
        [{"tax_code": "TX-STATE", "rate": Decimal("6.30"), "valid_from": date(2024, 1, 1)}],
    )
    db.session.commit()
