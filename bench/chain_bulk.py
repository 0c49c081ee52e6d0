"""Bulk-enabling Support offline across a chain, against a raw INSERT ... SELECT of the same rows.

`measure_bulk_enable` runs on a portal whose chain is already set up (stores × 5 registers, the
first register of each store its store register); `bulk_enable_benchmark` makes its own chain
with plain SQL on a fresh PostgreSQL database first.
"""

import time
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app

from bench.database import portal_on_fresh_database
from portal.core.extensions import db
from portal.setup.bulk import runner
from portal.setup.models import OFFLINE, ChannelDatabase, Register, Store

STORES = {"full": 10_000, "quick": 200}
REGISTERS_EACH = 5
TARGET = "≤ 5"


def chain(store_count: int, registers_each: int = REGISTERS_EACH) -> None:
    """`store_count` stores in group Chain with profile Chain offline, each with its channel
    database and `registers_each` registers `<store>-1` ..., written set-wise in SQL."""
    now = sa.func.now()
    group_id = db.session.execute(
        sa.text(
            "INSERT INTO channel_data_group (name, description, created_at, updated_at) "
            "VALUES ('Chain', 'Benchmark chain', now(), now()) RETURNING id"
        )
    ).scalar_one()
    profile_id = db.session.execute(
        sa.text(
            "INSERT INTO offline_profile (name, offline_timeout_s, reconnect_interval_min, "
            "pause_sync, allow_manual_switch_before_sign_in, advanced_offline_switching, "
            "health_check_interval_min, created_at, updated_at) "
            "VALUES ('Chain offline', 30, 5, false, false, false, 5, now(), now()) RETURNING id"
        )
    ).scalar_one()
    numbers = sa.select(sa.func.generate_series(1, store_count).label("n")).subquery()
    store_number = sa.func.concat("C", sa.func.lpad(sa.cast(numbers.c.n, sa.Text), 6, "0"))
    db.session.execute(
        sa.insert(Store).from_select(
            [
                "store_number",
                "name",
                "currency",
                "tax_group",
                "time_zone",
                "channel_data_group_id",
                "offline_profile_id",
                "created_at",
                "updated_at",
            ],
            sa.select(
                store_number,
                sa.func.concat("Chain store ", numbers.c.n),
                sa.literal("USD"),
                sa.literal("TX"),
                sa.literal("America/Chicago"),
                sa.literal(group_id),
                sa.literal(profile_id),
                now,
                now,
            ),
        )
    )
    db.session.execute(
        sa.insert(ChannelDatabase).from_select(
            [
                "name",
                "kind",
                "store_id",
                "channel_data_group_id",
                "active",
                "created_at",
                "updated_at",
            ],
            sa.select(
                Store.store_number,
                sa.literal("channel"),
                Store.id,
                Store.channel_data_group_id,
                sa.true(),
                now,
                now,
            ),
        )
    )
    each = sa.select(sa.func.generate_series(1, registers_each).label("k")).subquery()
    db.session.execute(
        sa.insert(Register).from_select(
            [
                "register_number",
                "store_id",
                "support_offline",
                "active",
                "created_at",
                "updated_at",
            ],
            sa.select(
                sa.func.concat(Store.store_number, "-", each.c.k),
                Store.id,
                sa.false(),
                sa.true(),
                now,
                now,
            )
            .select_from(Store)
            .join(each, sa.true()),
        )
    )
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def non_store_registers() -> list[str]:
    """Every register but the first of each store (its store register)."""
    return list(
        db.session.scalars(
            sa.select(Register.register_number)
            .where(~Register.register_number.like("%-1"))
            .order_by(Register.register_number)
        )
    )


def raw_insert_seconds(numbers: list[str]) -> float:
    """The same offline channel database rows by one INSERT ... SELECT, rolled back."""
    selected = sa.select(Register.id).where(Register.register_number.in_(numbers)).subquery()
    stmt = sa.insert(ChannelDatabase).from_select(
        [
            "name",
            "kind",
            "store_id",
            "register_id",
            "channel_data_group_id",
            "active",
            "created_at",
            "updated_at",
        ],
        sa.select(
            Register.register_number,
            sa.literal(OFFLINE),
            Register.store_id,
            Register.id,
            Store.channel_data_group_id,
            sa.true(),
            sa.func.now(),
            sa.func.now(),
        )
        .join(Store, Store.id == Register.store_id)
        .where(Register.id.in_(sa.select(selected.c.id))),
    )
    started = time.perf_counter()
    db.session.execute(stmt)
    seconds = time.perf_counter() - started
    db.session.rollback()
    return seconds


def measure_bulk_enable(numbers: list[str], step: Callable[[str], None] = print) -> tuple:
    """Time one bulk operation enabling Support offline for `numbers`, and its baseline; a row."""
    step(f"raw INSERT ... SELECT of {len(numbers):,} offline channel databases")
    baseline = raw_insert_seconds(numbers)
    # One operation made here, not handed to a worker: the rule's own cost is measured.
    current_app.config["BULK_TASK_THRESHOLD"] = len(numbers) + 1
    step(f"bulk-enabling Support offline for {len(numbers):,} registers")
    started = time.perf_counter()
    operation = runner.start("registers", {"register_numbers": numbers}, {"support_offline": True})
    db.session.commit()
    seconds = time.perf_counter() - started
    assert operation.changed == len(numbers), (operation.changed, operation.refusals[:3])
    return (
        f"bulk-enable Support offline, {len(numbers):,} registers in one operation",
        f"{seconds:.2f} s",
        f"{baseline:.2f} s (INSERT ... SELECT)",
        f"{seconds / baseline:.1f}",
        TARGET,
    )


def bulk_enable_benchmark(quick: bool, scratch: str = "/tmp", step=print) -> list[tuple]:
    """On a fresh database: a chain of stores × 5 registers, then `measure_bulk_enable`."""
    stores = STORES["quick" if quick else "full"]
    with portal_on_fresh_database("chain_bulk", f"{scratch}/chain_bulk"):
        step(f"chain: {stores:,} stores × {REGISTERS_EACH} registers")
        chain(stores)
        return [measure_bulk_enable(non_store_registers(), step)]
