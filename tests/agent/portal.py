"""A live portal for the agent: HQ's demo catalogue for two stores, codes, runs, HQ's scope."""

import uuid
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from portal.core.extensions import db
from portal.demo import DEMO_SCHEDULES, DEMO_TAX_CODES, assign_assortments
from portal.device_api import credentials
from portal.distribution import runs, sessions
from portal.distribution import services as schedules
from portal.distribution.builds import table_exports
from portal.distribution.manifest import manifest
from portal.distribution.models import (
    RUN_WAITING,
    DistributionRun,
    DistributionSchedule,
    DownloadSession,
)
from portal.distribution.package_files import read_package, write_package
from portal.distribution.tables import TABLES
from portal.distribution.targets import tables_for, target_of
from portal.masterdata import demo as catalogue
from portal.masterdata import services as masterdata
from portal.masterdata.demo_products import seed_products
from portal.masterdata.people import Customer
from portal.masterdata.products import AssortmentLine
from portal.masterdata.versioning import committed_version
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDatabase
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores
from tests.distribution.conftest import build_run

STORES = (("HOUSTON", "TX", "America/Chicago"), ("SEATTLE", "WA", "America/Los_Angeles"))
REGISTERS = ("HOUSTON-1", "HOUSTON-2", "SEATTLE-1")
TAX_GROUPS = (("TX", ["TX-STATE", "TX-HOU"]), ("WA", ["WA-STATE", "WA-SEA"]))


def seed_hq(products: int = 30) -> None:
    """Two demo stores with every master data table filled, and the demo schedules."""
    schedules.ensure_standard_jobs()
    channels.create_group("Stores", "Store and offline databases")
    offline_profiles.create_profile({"name": "Standard offline"})
    masterdata.bulk_upsert("tax_code", [{"code": c, "name": n} for c, n, _ in DEMO_TAX_CODES])
    masterdata.bulk_upsert(
        "tax_rate",
        [{"tax_code": c, "rate": r, "valid_from": "2024-01-01"} for c, _, r in DEMO_TAX_CODES],
    )
    masterdata.bulk_upsert(
        "sales_tax_group", [{"code": c, "name": c, "tax_codes": t} for c, t in TAX_GROUPS]
    )
    every_code = [code for code, _, _ in DEMO_TAX_CODES]
    masterdata.bulk_upsert(
        "item_tax_group", [{"code": "STANDARD", "name": "Standard", "tax_codes": every_code}]
    )
    # Stores name their currency and sales tax group: those come first.
    catalogue.seed_currencies()
    for number, tax_group, zone in STORES:
        stores.create_store(
            {
                "store_number": number,
                "name": number.title(),
                "currency": "USD",
                "tax_group": tax_group,
                "time_zone": zone,
                "channel_data_group": "Stores",
                "offline_profile": "Standard offline",
            }
        )
    for number in REGISTERS:
        store = number.rsplit("-", 1)[0]
        registers.create_register(
            {"register_number": number, "store": store, "support_offline": number.endswith("-1")}
        )
    numbers = [number for number, _, _ in STORES]
    catalogue.seed_reference_data(numbers, REGISTERS)
    assign_assortments(numbers)
    catalogue.seed_people(numbers, customers=10)
    seed_products(products, numbers)
    catalogue.seed_discounts(products)
    for schedule in DEMO_SCHEDULES:
        schedules.create_schedule(schedule)
    db.session.commit()


def database_named(name: str) -> ChannelDatabase:
    """The channel database with this name (a register's offline one is REGISTER-OFFLINE)."""
    db.session.expire_all()
    return db.session.scalar(sa.select(ChannelDatabase).filter_by(name=name))


def package_file(session: DownloadSession) -> Path:
    """Where HQ keeps a session's package file."""
    return Path(current_app.config["PACKAGE_STORE"]) / session.package.path


def issue_code(name: str) -> str:
    """A fresh activation code for the named channel database, committed."""
    _, code = credentials.issue_activation_code(database_named(name))
    db.session.commit()
    return code


def build_waiting_runs() -> list[int]:
    """Build every run waiting for a worker here, as the workers would; returns their ids."""
    db.session.expire_all()
    waiting = db.session.scalars(
        sa.select(DistributionRun.id)
        .where(DistributionRun.status == RUN_WAITING)
        .order_by(DistributionRun.id)
    ).all()
    for run_id in waiting:
        build_run(run_id)
    return list(waiting)


def run_every_schedule() -> None:
    """Run every enabled schedule now (incremental where a target had a package before)."""
    for schedule in db.session.scalars(sa.select(DistributionSchedule)):
        runs.request_run(schedule)
    db.session.commit()
    build_waiting_runs()


def hq_scope(database_name: str, folder: Path) -> dict[str, dict[tuple, dict]]:
    """What HQ scopes to a database now: a full package of every table it receives, by key.

    Written by the engine's own selects and package writer, read back with `read_package`.
    """
    database = database_named(database_name)
    target = target_of(database)
    jobs = {job for schedule in sessions.schedules_reaching(database) for job in schedule.jobs}
    tables = sorted({table for job in jobs for table in tables_for(database, job)})
    connection = db.session.connection()
    upto = committed_version(connection)
    contents = manifest("expected", "full", 0, upto, {t: TABLES[t] for t in tables})
    exports = table_exports(connection, tables, target, 0, upto, True)
    relative, *_ = write_package(folder, uuid.uuid4().hex, contents, exports)
    _, lines = read_package(folder / relative)
    return {t: keyed(TABLES[t].key, [line["row"] for line in lines[t]]) for t in tables}


def keyed(key, rows: list[dict]) -> dict[tuple, dict]:
    """Rows by their key values."""
    return {tuple(row[k] for k in key): row for row in rows}


def change_master_data() -> dict[str, str]:
    """HQ changes rows SEATTLE sees: updates, additions and deletions; returns which products.

    The second product leaves SEATTLE's assortment, so its rows are deleted there while HQ
    keeps them for other stores.
    """
    assortment = catalogue.assortment_code("SEATTLE")
    renamed, dropped = db.session.scalars(
        sa.select(AssortmentLine.product_number)
        .where(AssortmentLine.assortment_code == assortment, AssortmentLine.deleted.is_(False))
        .order_by(AssortmentLine.product_number)
        .limit(2)
    ).all()
    masterdata.bulk_upsert(
        "product", [{"product_number": renamed, "name": "Renamed at HQ", "unit": "pcs"}]
    )
    masterdata.bulk_delete(
        "assortment_line", [{"assortment_code": assortment, "product_number": dropped}]
    )
    masterdata.bulk_upsert(
        "tax_rate", [{"tax_code": "WA-STATE", "rate": "7.00", "valid_from": "2026-01-01"}]
    )
    customer = db.session.scalar(sa.select(sa.func.max(Customer.account_number)))
    # A customer in use is not deleted: its address goes first.
    masterdata.bulk_delete("customer_address", [{"account_number": customer, "label": "main"}])
    masterdata.bulk_delete("customer", [customer])
    masterdata.bulk_upsert("feature_switch", [{"name": "self_checkout", "enabled": True}])
    db.session.commit()
    return {"renamed": renamed, "dropped": dropped, "customer": customer}
