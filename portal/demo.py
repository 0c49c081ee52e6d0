"""Demo data for a first look at the portal: built with the same services HQ staff use."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from portal.auth import services as auth
from portal.auth.models import User
from portal.core.extensions import db
from portal.distribution import services as schedules
from portal.distribution.models import DistributionSchedule
from portal.masterdata import demo as catalogue
from portal.masterdata import services as masterdata
from portal.masterdata.demo_products import Checkpoint, seed_products
from portal.masterdata.tax import ItemTaxGroup, SalesTaxGroup, TaxCode, TaxRate
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDataGroup, OfflineProfile, Register, Store
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores

# The README names these credentials; they are for a local demo only.
DEMO_PASSWORD = "demo-password"
DEMO_USERS = (
    ("admin@demo.hq", "admin", "Ada Admin"),
    ("hq@demo.hq", "hq", "Harper HQ"),
    ("scheduler@demo.hq", "scheduler", "Sam Scheduler"),
    ("auditor@demo.hq", "auditor", "Avery Auditor"),
)
DEMO_GROUPS = (
    ("Stores", "Store channel databases"),
    ("Offline registers", "Offline databases of registers"),
    ("Parking", "New registers until they are activated: no schedules target it"),
)
DEMO_PROFILES = (
    {"name": "Standard offline", "offline_timeout_s": 15, "reconnect_interval_min": 5},
    {"name": "Paused", "pause_sync": True},
)
DEMO_TAX_CODES = (
    ("TX-STATE", "Texas state sales tax", "6.25"),
    ("TX-HOU", "Houston local sales tax", "2.00"),
    ("WA-STATE", "Washington state sales tax", "6.50"),
    ("WA-SEA", "Seattle local sales tax", "3.85"),
    ("ON-HST", "Ontario harmonized sales tax", "13.00"),
)
DEMO_SALES_TAX_GROUPS = (
    ("TX", "Texas (Houston)", ["TX-STATE", "TX-HOU"]),
    ("WA", "Washington (Seattle)", ["WA-STATE", "WA-SEA"]),
    ("ON", "Ontario", ["ON-HST"]),
)
# Product changes go out every night at 02:00 Houston time; the other jobs run on demand.
DEMO_RECURRENCES = {"1040": {"cron": "0 2 * * *", "time_zone": "America/Chicago"}}
DEMO_SCHEDULES = tuple(
    {
        "code": job,
        "name": name,
        "jobs": [job],
        "groups": ["Stores"],
        **DEMO_RECURRENCES.get(job, {}),
    }
    for job, name in (
        ("1080", "Sales tax"),
        ("1000", "Currency"),
        ("1010", "Customers"),
        ("1020", "Prices"),
        ("1040", "Products"),
        ("1060", "Staff"),
        ("1070", "Channel configuration"),
        ("1090", "Registers"),
        ("1110", "Global configuration"),
        ("1150", "Catalog"),
        ("1200", "Offline scopes"),
    )
)
# Products the demo catalogue holds unless `seed-demo --products N` says otherwise.
DEMO_PRODUCTS = 200
DEMO_STORES = (
    ("HOUSTON", "Houston Galleria", "USD", "TX", "America/Chicago", 3),
    ("SEATTLE", "Seattle Downtown", "USD", "WA", "America/Los_Angeles", 2),
    ("TORONTO", "Toronto Eaton Centre", "CAD", "ON", "America/Toronto", 2),
)


def seed(products: int = DEMO_PRODUCTS, checkpoint: Checkpoint | None = None) -> list[str]:
    """Create whatever demo data is missing (idempotent); returns what was done.

    `checkpoint` runs after each chunk of demo products (see `seed_products`).
    """
    done = [f"{schedules.ensure_standard_jobs()} standard scheduler job(s) added"]
    for email, role, name in DEMO_USERS:
        if _missing(User, email=email):
            auth.create_user(email, role, DEMO_PASSWORD, name)
            done.append(f"user {email} ({role})")
    for name, description in DEMO_GROUPS:
        if _missing(ChannelDataGroup, name=name):
            channels.create_group(name, description)
            done.append(f"channel data group {name}")
    for profile in DEMO_PROFILES:
        if _missing(OfflineProfile, name=profile["name"]):
            offline_profiles.create_profile(profile)
            done.append(f"offline profile {profile['name']}")
    # A store names its currency and sales tax group, so they come first.
    done.append(catalogue.seed_currencies())
    done.append(f"{_seed_tax()} sales tax row(s) added")
    for number, name, currency, tax_group, time_zone, register_count in DEMO_STORES:
        if _missing(Store, store_number=number):
            stores.create_store(
                {
                    "store_number": number,
                    "name": name,
                    "currency": currency,
                    "tax_group": tax_group,
                    "time_zone": time_zone,
                    "channel_data_group": "Stores",
                    "offline_profile": "Standard offline",
                }
            )
            done.append(f"store {number}")
        for index in range(1, register_count + 1):
            register_number = f"{number}-{index}"
            if _missing(Register, register_number=register_number):
                registers.create_register(
                    {
                        "register_number": register_number,
                        "store": number,
                        "support_offline": index == 1,
                    }
                )
                done.append(f"register {register_number}")
    store_numbers = [number for number, *_ in DEMO_STORES]
    register_numbers = [f"{n}-{i}" for n, *_, count in DEMO_STORES for i in range(1, count + 1)]
    done += _seed_catalogue(store_numbers, register_numbers, products, checkpoint)
    for schedule in DEMO_SCHEDULES:
        if _missing(DistributionSchedule, code=schedule["code"]):
            schedules.create_schedule(schedule)
            done.append(f"distribution schedule {schedule['code']}")
    return done


def _seed_catalogue(
    store_numbers: list[str],
    register_numbers: list[str],
    products: int,
    checkpoint: Checkpoint | None,
) -> list[str]:
    """Add whatever demo master data is missing, for these stores and registers; says what.

    The stores exist already, so the currencies and tax groups they name do too.
    """
    done = catalogue.seed_reference_data(store_numbers, register_numbers)
    done.append(assign_assortments(store_numbers))
    done += catalogue.seed_people(store_numbers)
    done.append(seed_products(products, store_numbers, checkpoint))
    done.append(catalogue.seed_discounts(products))
    return done


def assign_assortments(store_numbers: list[str]) -> str:
    """Give each store without one its demo assortment, and price group RETAIL."""
    changed = 0
    for number in store_numbers:
        store = stores.get_store(number)
        wanted = {"assortment": catalogue.assortment_code(number), "price_group": "RETAIL"}
        missing = {name: value for name, value in wanted.items() if getattr(store, name) is None}
        if missing:
            stores.update_store(store, missing)
            changed += 1
    return f"{changed} store(s) given their demo assortment and price group"


def _seed_tax() -> int:
    codes = [{"code": code, "name": name} for code, name, _ in DEMO_TAX_CODES]
    rates = [
        {"tax_code": code, "rate": Decimal(rate), "valid_from": date(2024, 1, 1)}
        for code, _, rate in DEMO_TAX_CODES
    ]
    groups = [{"code": c, "name": n, "tax_codes": t} for c, n, t in DEMO_SALES_TAX_GROUPS]
    items = [
        {
            "code": "STANDARD",
            "name": "Standard rated goods",
            "tax_codes": list(code for code, _, _ in DEMO_TAX_CODES),
        }
    ]
    added = 0
    for model, key, rows in (
        (TaxCode, ("code",), codes),
        (TaxRate, ("tax_code", "valid_from"), rates),
        (SalesTaxGroup, ("code",), groups),
        (ItemTaxGroup, ("code",), items),
    ):
        added += masterdata.upsert(model, key, rows)[0]
    return added


def _missing(model, **key) -> bool:
    return db.session.scalar(sa.select(model.id).filter_by(**key)) is None
