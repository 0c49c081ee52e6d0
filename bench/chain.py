"""`--only chain`: HQ at chain size, 10,000 stores × 5 registers on PostgreSQL.

Each store has its own register (no Support offline) and four offline ones, every database
activated: 10,000 store databases and 40,000 offline ones in ten channel data groups. The chain
is written by SQL (`INSERT ... SELECT generate_series`), as the services would take an hour.

- The register list filtered to one channel data group and searched, in process through the
  whole view, p99 against the same page over a chain of 100 registers; beside it the other big
  pages (stores, the group's page, the Devices dashboard).
- The scope-size preview of one store whose assortment holds 1,000,000 products, the first after
  a catalogue change, against the same preview with every table counted exactly.
- A 1080 incremental run over all 50,000 databases by a real Celery worker (2 processes), time
  per target against a run for a single target.
"""

import os
import re
import secrets
import time
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from bench import fixtures
from bench.chain_bulk import bulk_enable_benchmark
from bench.database import portal_on_fresh_database
from bench.server import REDIS, celery_worker, ms, percentile
from portal.auth import services as auth
from portal.core.extensions import db
from portal.distribution import preview, runs, tasks
from portal.distribution import services as distribution
from portal.distribution.models import RUN_DONE, RUN_FAILED, DistributionRun
from portal.distribution.preview import profile_preview
from portal.distribution.preview_selection import selection_preview
from portal.masterdata import services as masterdata
from portal.masterdata.products import Product
from portal.masterdata.tax import TaxRate
from portal.setup.channels import services as channels
from portal.setup.models import Register
from portal.setup.offline_profiles import services as offline_profiles
from portal.setup.stores import services as stores

SIZES = {
    "full": {"stores": 10_000, "products": 1_000_000, "repeats": 20},
    "quick": {"stores": 200, "products": 10_000, "repeats": 5},
}
REGISTERS_EACH = 5  # the first is the store's own; the other four support offline
GROUPS = 10
SMALL_CHAIN = 100 // REGISTERS_EACH  # stores of the baseline chain: 100 registers
PROFILE = "Chain offline"
PASSWORD = "bench-password-1"
RUN_TIMEOUT = 900
# Store numbers C00010 to C00019: registers at both sizes, in every group.
SEARCH = "C0001"
GROUP = "Region 03"
# The register list's channel data group filter.
GROUP_FILTER = "channel_data_group"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def chain_benchmark(quick: bool, scratch: Path, step) -> list[tuple]:
    """The chain's pages, the preview at a million products and a 1080 run over every database."""
    sizes = SIZES["quick" if quick else "full"]
    repeats = sizes["repeats"]
    with portal_on_fresh_database("chain_small", str(scratch / "chain_small")) as app:
        step(f"chain: {SMALL_CHAIN} stores × {REGISTERS_EACH} registers (baseline)")
        seed_chain(SMALL_CHAIN)
        small = measure_pages(app, repeats, step)
    rows = []
    with _worker_environment() as environment:
        label = "chain_large"
        with portal_on_fresh_database(label, str(scratch / label)) as app:
            step(f"chain: seeding {sizes['products']:,} products for one store")
            fixtures.catalogue(sizes["products"])
            step(f"chain: {sizes['stores']:,} stores × {REGISTERS_EACH} registers")
            seed_chain(sizes["stores"])
            large = measure_pages(app, repeats, step)
            rows += page_rows(sizes["stores"], large, small)
            rows += preview_rows(sizes["products"], repeats, step)
            rows += selection_rows(step)
            rows += run_rows(app, scratch, environment, step)
    rows += bulk_enable_benchmark(quick, str(scratch), step)
    return rows


def chain_pages_benchmark(quick: bool, scratch: Path, step) -> list[tuple]:
    """The page rows alone: the chain against the small one, without the catalogue or a run."""
    sizes = SIZES["quick" if quick else "full"]
    timings = []
    for label, count in (("chain_small", SMALL_CHAIN), ("chain_pages", sizes["stores"])):
        with portal_on_fresh_database(label, str(scratch / label)) as app:
            step(f"chain: {count:,} stores × {REGISTERS_EACH} registers")
            seed_chain(count)
            timings.append(measure_pages(app, sizes["repeats"], step))
    small, large = timings
    return page_rows(sizes["stores"], large, small)


def chain_preview_benchmark(quick: bool, scratch: Path, step) -> list[tuple]:
    """The preview rows alone: the large catalogue's store, without the chain around it."""
    sizes = SIZES["quick" if quick else "full"]
    with portal_on_fresh_database("chain_preview", str(scratch / "chain_preview")):
        step(f"chain: seeding {sizes['products']:,} products for one store")
        fixtures.catalogue(sizes["products"])
        return preview_rows(sizes["products"], sizes["repeats"], step)


def chain_run_benchmark(quick: bool, stores_count: int | None, scratch: Path, step) -> list[tuple]:
    """The 1080 incremental run alone, on a chain of `stores_count` stores (default: the size's)
    and no catalogue: the part of `chain` to profile and tune without its hour of seeding."""
    count = stores_count or SIZES["quick" if quick else "full"]["stores"]
    with (
        _worker_environment() as environment,
        portal_on_fresh_database("chain_run", str(scratch / "chain_run")) as app,
    ):
        fixtures.catalogue(0)
        step(f"chain: {count:,} stores × {REGISTERS_EACH} registers")
        seed_chain(count)
        return run_rows(app, scratch, environment, step)


def seed_chain(count: int) -> None:
    """`count` stores in GROUPS groups, five registers each, their databases all activated."""
    distribution.ensure_standard_jobs()
    fixtures.tax_data()
    for index in range(GROUPS):
        channels.create_group(_group(index), "Chain stores")
    offline_profiles.create_profile({"name": PROFILE})
    db.session.commit()
    params = {"stores": count, "groups": GROUPS, "profile": PROFILE, "each": REGISTERS_EACH}
    for statement in _CHAIN_SQL:
        db.session.execute(sa.text(statement), params)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def _group(index: int) -> str:
    return f"Region {index:02d}"


_CHAIN_SQL = [
    """
    INSERT INTO store (store_number, name, currency, tax_group, time_zone,
                       channel_data_group_id, offline_profile_id, created_at, updated_at)
    SELECT 'C' || lpad(i::text, 5, '0'), 'Chain store ' || i, 'USD', 'TX', 'America/Chicago',
           g.id, p.id, now(), now()
    FROM generate_series(0, :stores - 1) AS i
    JOIN channel_data_group g ON g.name = 'Region ' || lpad((i % :groups)::text, 2, '0')
    CROSS JOIN offline_profile p
    WHERE p.name = :profile
    """,
    """
    INSERT INTO channel_database (name, kind, store_id, channel_data_group_id, active,
                                  activated_at, created_at, updated_at)
    SELECT store_number, 'channel', id, channel_data_group_id, true, now(), now(), now()
    FROM store WHERE store_number LIKE 'C%'
    """,
    """
    INSERT INTO register (register_number, store_id, support_offline, active, created_at,
                          updated_at)
    SELECT s.store_number || '-' || n, s.id, n > 1, true, now(), now()
    FROM store s CROSS JOIN generate_series(1, :each) AS n
    WHERE s.store_number LIKE 'C%'
    """,
    """
    INSERT INTO channel_database (name, kind, store_id, register_id, channel_data_group_id,
                                  active, activated_at, created_at, updated_at)
    SELECT r.register_number, 'offline', r.store_id, r.id, s.channel_data_group_id, true, now(),
           now(), now()
    FROM register r JOIN store s ON s.id = r.store_id
    WHERE r.support_offline AND s.store_number LIKE 'C%'
    """,
]


def _pages() -> list[tuple[str, str, dict]]:
    return [
        ("register list, group and search", "/registers/", {GROUP_FILTER: GROUP, "q": SEARCH}),
        ("store list, searched", "/stores/", {"q": SEARCH}),
        ("channel data group page", f"/channel-data-groups/{GROUP}", {}),
        ("devices dashboard", "/devices/", {}),
    ]


def measure_pages(app, repeats: int, step) -> dict[str, list[float]]:
    """Each page's times over `repeats` rounds, after one round that warms the caches."""
    email = f"chain-{secrets.token_hex(3)}@bench.example"
    auth.create_user(email, "hq", PASSWORD)
    db.session.commit()
    client = app.test_client()
    _sign_in(client, email)
    timings: dict[str, list[float]] = {}
    for round_ in range(repeats + 1):
        for what, path, query in _pages():
            started = time.perf_counter()
            response = client.get(path, query_string=query)
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"chain: {what} answered {response.status_code}")
            if round_:
                timings.setdefault(what, []).append(seconds)
    for what, seconds in timings.items():
        step(f"  {what}: p50 {ms(percentile(seconds, 0.5))}, p99 {ms(percentile(seconds, 0.99))}")
    return timings


def _sign_in(client, email: str) -> None:
    match = _CSRF.search(client.get("/login").get_data(as_text=True))
    if match is None:
        raise SystemExit("chain: no sign-in form")
    answer = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": match[1]}
    )
    if answer.status_code != 302:
        raise SystemExit(f"chain: could not sign in ({answer.status_code})")


def page_rows(stores_count: int, large: dict, small: dict) -> list[tuple]:
    """The register list's p99 row, and one for the other big pages together."""
    registers = stores_count * REGISTERS_EACH
    first = "register list, group and search"
    rest_large = [s for what, times in large.items() if what != first for s in times]
    rest_small = [s for what, times in small.items() if what != first for s in times]
    rows = []
    for label, slow, base in (
        (f"register list filtered to a group and searched, p99 ({registers:,} registers)",
         large[first], small[first]),
        (f"store list, group page, Devices p99 ({stores_count:,} stores)", rest_large, rest_small),
    ):  # fmt: skip
        p_slow, p_base = percentile(slow, 0.99), percentile(base, 0.99)
        rows.append(
            (label, ms(p_slow), f"{ms(p_base)} (100 registers)", f"{p_slow / p_base:.2f}", "≤ 2")
        )
    return rows


def preview_rows(products: int, repeats: int, step) -> list[tuple]:
    """The scope-size preview of the catalogue's store: the first after a catalogue change
    against the same preview counted exactly, the next ones, and the estimate's accuracy."""
    profile = offline_profiles.get_profile("Bench offline")
    store = stores.get_store("BENCH")

    def timed() -> tuple[float, object]:
        started = time.perf_counter()
        result = profile_preview(profile, store)
        seconds = time.perf_counter() - started
        db.session.rollback()
        return seconds, result

    profile_preview(profile, store)  # the counts of the store's small tables, kept
    db.session.rollback()
    step("  changing a product")
    masterdata.upsert(Product, ("product_number",), [{"product_number": "P0000001", "unit": "kg"}])
    db.session.commit()
    first, estimated = timed()
    again = [timed()[0] for _ in range(repeats)]
    # The same preview with every table counted exactly, as before estimates: the baseline.
    exact_up_to, preview.EXACT_UP_TO = preview.EXACT_UP_TO, float("inf")
    preview.forget_counts()
    try:
        counting, exact = timed()
    finally:
        preview.EXACT_UP_TO = exact_up_to
    planned = [t.table for t in estimated.tables if t.rows_estimate == preview.PLANNER]
    step(
        f"  preview: first after a change {ms(first)} ({estimated.rows_total:,} rows, estimated: "
        f"{', '.join(planned) or 'none'}), counted exactly {ms(counting)} ({exact.rows_total:,})"
    )
    return [
        (
            f"scope-size preview, the first after a change, one store of {products:,} products "
            f"({len(planned)} tables estimated)",
            ms(first),
            f"{ms(counting)} (every table counted)",
            f"{first / counting:.2f}",
            "≤ 1 s",
        ),
        (
            f"scope-size preview, slowest of {repeats} after the first",
            ms(max(again)),
            f"{ms(first)} (the first)",
            f"{max(again) / first:.2f}",
            "≤ 1 s",
        ),
        (
            "scope-size preview, rows estimated against counted",
            f"{estimated.rows_total:,} rows",
            f"{exact.rows_total:,} rows",
            f"{estimated.rows_total / exact.rows_total:.3f}",
            "(none)",
        ),
    ]


def selection_rows(step) -> list[tuple]:
    """The bulk confirmation's preview of every chain register, the first and a second time."""
    ids = list(db.session.scalars(sa.select(Register.id)))
    times = []
    for _ in range(2):
        started = time.perf_counter()
        selection = selection_preview(ids)
        times.append(time.perf_counter() - started)
        db.session.rollback()
    step(f"  selection: {selection.summary}")
    return [
        (
            f"bulk confirmation preview, {len(ids):,} registers, again",
            ms(times[1]),
            f"{ms(times[0])} (the first, counting)",
            f"{times[1] / times[0]:.2f}",
            "(none)",
        )
    ]


@contextmanager
def _worker_environment():
    """The broker and a queue of the benchmark's own, for this process's app and the worker."""
    saved = {key: os.environ.get(key) for key in ("REDIS_URL", "CELERY_QUEUE")}
    environment = {
        "REDIS_URL": os.environ.get("REDIS_URL") or REDIS,
        "CELERY_QUEUE": f"bench-chain-{secrets.token_hex(4)}",
    }
    os.environ.update(environment)
    try:
        yield environment
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_rows(app, scratch: Path, environment: dict, step) -> list[tuple]:
    """A 1080 incremental run over every database, per target, against a one-target run."""
    groups = [_group(index) for index in range(GROUPS)]
    fixtures.schedule("CHAIN", ["1080"], groups)
    fixtures.schedule("SOLO", ["1080"], ["Bench"])
    url, packages = app.config["SQLALCHEMY_DATABASE_URI"], Path(app.config["PACKAGE_STORE"])
    with celery_worker(url, packages, scratch / "chain_worker.log", environment) as worker:
        step("chain: first (full) 1080 runs, so the next ones are incremental")
        _run("CHAIN")
        _run("SOLO")
        _change_tax(Decimal("6.30"))
        targets, seconds = _run("CHAIN")
        step(f"  incremental run: {targets:,} targets in {seconds:.1f} s")
        _change_tax(Decimal("6.35"))
        _, single = _run("SOLO")
        problems = worker.errors()
    if problems:
        raise SystemExit("chain: the worker logged errors:\n" + "\n".join(problems[:20]))
    per_target = seconds / targets
    return [
        (
            f"1080 incremental run, {targets:,} databases, 2 worker processes "
            f"({seconds:.0f} s in all)",
            f"{per_target * 1000:.2f} ms per target",
            f"{single * 1000:.0f} ms (one target)",
            f"{per_target / single:.4f}",
            "≤ 0.05, under 2 min",
        )
    ]


def _run(code: str) -> tuple[int, float]:
    """Run a schedule now through the worker and wait; returns its targets and seconds."""
    run = runs.request_run(distribution.get_schedule(code))
    db.session.commit()
    started = time.perf_counter()
    if not tasks.dispatch_run(run.id):
        raise SystemExit("chain: the broker is unreachable")
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(0.05)
        db.session.commit()
        run = db.session.get(DistributionRun, run.id, populate_existing=True)
        if run.status in (RUN_DONE, RUN_FAILED):
            if run.status == RUN_FAILED or run.sessions_failed:
                raise SystemExit(f"chain: run {run.id} {run.status}: {run.message}")
            return run.sessions_total, time.perf_counter() - started
    raise SystemExit(f"chain: run {run.id} did not finish within {RUN_TIMEOUT} s")


def _change_tax(rate: Decimal) -> None:
    """A new Texas rate, so the next 1080 runs have a change to carry."""
    masterdata.upsert(
        TaxRate,
        ("tax_code", "valid_from"),
        [{"tax_code": "TX-STATE", "rate": rate, "valid_from": date(2024, 1, 1)}],
    )
    db.session.commit()
