"""A small chain for the scope-size preview's tests: two stores of one profile, every job."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution import services as distribution
from portal.masterdata import services as masterdata
from portal.masterdata.jobs import UPLOAD
from portal.masterdata.people import Worker, WorkerStore
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import AssortmentLine, Barcode, Product
from portal.setup.models import OfflineProfile, Store
from portal.setup.offline_profiles import services as profiles
from tests.factories import GroupFactory, StoreFactory

PROFILE = "Chain offline"


def download_jobs() -> list[str]:
    """Every download job of the catalogue, as a schedule lists them."""
    return [job.job_number for job in distribution.list_jobs() if job.direction != UPLOAD]


def seed_chain() -> None:
    """HOUSTON sells assortment TX-A at price group RETAIL, OUTLET sells everything; both use
    the profile, whose scopes are the default ones; schedule DAILY carries every job."""
    distribution.ensure_standard_jobs()
    profiles.create_profile({"name": PROFILE})
    GroupFactory(name="Stores")
    common = {"channel_data_group": "Stores", "offline_profile": PROFILE}
    StoreFactory(store_number="HOUSTON", assortment="TX-A", price_group="RETAIL", **common)
    StoreFactory(store_number="OUTLET", **common)
    products = [
        {"product_number": f"P{n}", "name": f"Product {n}", "base_price": Decimal("1")}
        for n in range(1, 6)
    ]
    masterdata.upsert(Product, ("product_number",), products)
    masterdata.upsert(
        Barcode,
        ("barcode",),
        [{"barcode": f"000{n}", "product_number": f"P{n}"} for n in range(1, 6)],
    )
    masterdata.upsert(
        AssortmentLine,
        ("assortment_code", "product_number"),
        [{"assortment_code": "TX-A", "product_number": n} for n in ("P1", "P2")],
    )
    masterdata.upsert(
        TradeAgreement,
        ("price_group", "product_number", "valid_from"),
        [
            {
                "price_group": group,
                "product_number": product,
                "unit_price": Decimal("4.99"),
                "currency": "USD",
                "valid_from": date(2026, 1, 1),
            }
            for group in ("RETAIL", "OUTLET")
            for product in ("P1", "P3")
        ],
    )
    masterdata.upsert(Worker, ("staff_id",), [{"staff_id": "000160", "name": "Jo"}])
    masterdata.upsert(
        WorkerStore,
        ("staff_id", "store_number"),
        [{"staff_id": "000160", "store_number": "HOUSTON"}],
    )
    distribution.create_schedule({"code": "DAILY", "jobs": download_jobs(), "groups": ["Stores"]})
    db.session.commit()


def profile() -> OfflineProfile:
    return profiles.get_profile(PROFILE)


def store(number: str) -> Store:
    return db.session.scalar(sa.select(Store).filter_by(store_number=number))
