"""`python -m bench [--quick]`: each figure printed beside its same-run baseline, as a ratio.

- build: a full package for one store's catalogue (products, variants, barcodes, prices), in
  rows per second, against PostgreSQL's own COPY export of the same rows; peak memory of the
  build with a small and a large catalogue (flat means streamed).
- incremental: a package carrying 100 changed products, with a small and a large catalogue.
- fanout: one 1080 run for many stores with 4 offline registers each, time per target against
  a run for a single target.
- uploads: 10,000 sales in batches of 500 through the device API, against a raw bulk insert
  of the same rows, each batch inserted raw right after it was uploaded; then every batch
  replayed.
- device_load: 200 agents (50 stores × 4 offline registers) syncing their packages, selling
  offline and uploading at once against the portal under gunicorn: each device endpoint's p99
  against one agent alone; any error fails the run.
- web_load: 20 users on the list and search pages over 1,000,000 transactions and 10,000
  registers under gunicorn: p95 and p99 against the 500 ms target, and again while a real
  Celery worker builds a full sync of every register, against the idle figures.
- worklist: the scheduler's worklist, every tab, with 50,000 databases (failed, behind, silent
  ones among them): p99 against the same with 500.
- polling: device heartbeats and package checks at a rising rate under gunicorn: the highest
  rate sustained with p99 under 250 ms against a bare Flask endpoint under the same gunicorn,
  and how many devices polling every 5 minutes it serves.
- search: the master data list pages, searched by number, name, barcode and price group, with
  1,000,000 products: p99 against the same pages with 10,000 products.
- chain: 10,000 stores × 5 registers: the register list filtered and searched (p99 against 100
  registers), the scope-size preview at 1,000,000 products, a 1080 incremental run over all
  50,000 databases by a real worker, per target against a one-target run; and Support offline
  bulk-enabled for the 40,000 non-store registers in one operation, against a raw
  INSERT ... SELECT of the same rows. `chain_pages`, `chain_bulk` and `chain_preview` run those
  parts alone (the pages on the chains without the catalogue; the bulk change on its own chain;
  the preview on the large catalogue, without the chain); `chain_run` the 1080 run alone,
  without the 1,000,000 products (`--stores N`: the chain's size, default 10,000 stores, quick
  200).
- history: 30 simulated days of hourly runs of 10 jobs over 5,000 databases: download session
  rows at the end against databases × jobs, and a run on day 30 against one on day 1.
"""

import argparse
import platform
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bench import fixtures
from bench.chain import (
    chain_benchmark,
    chain_pages_benchmark,
    chain_preview_benchmark,
    chain_run_benchmark,
)
from bench.chain_bulk import bulk_enable_benchmark
from bench.database import portal_on_fresh_database
from bench.device_load import device_load_benchmark
from bench.history import history_benchmark
from bench.polling import polling_benchmark
from bench.search import search_benchmark
from bench.uploads import SALES, upload_benchmarks
from bench.web_load import web_load_benchmark
from bench.worklist import worklist_benchmark
from portal.core.extensions import db
from portal.distribution.export import TableExport
from portal.distribution.models import SchedulerJob
from portal.distribution.package_files import write_package
from portal.distribution.tables import TABLES
from portal.distribution.targets import tables_for, target_of
from portal.masterdata import services as masterdata
from portal.masterdata.demo_products import product_number
from portal.masterdata.products import Product
from portal.masterdata.versioning import committed_version
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDatabase

SIZES = {
    "full": {
        "catalogue": 1_000_000,
        "small": 10_000,
        "stores": 1_000,
        "agents": 200,
        "web_registers": 10_000,
        "web_transactions": 1_000_000,
        "web_warmup": 10,
        "web_seconds": 60,
        "history_stores": 1_000,
    },
    "quick": {
        "catalogue": 20_000,
        "small": 2_000,
        "stores": 25,
        "agents": 20,
        "web_registers": 200,
        "web_transactions": 20_000,
        "web_warmup": 3,
        "web_seconds": 10,
        "history_stores": 20,
    },
}
PRODUCT_JOBS = ["1040", "1020"]
CHANGED = 100


def main() -> None:
    """Run the benchmarks and print a Markdown table of figures, baselines and ratios."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    benchmarks = [
        "build",
        "incremental",
        "fanout",
        "uploads",
        "device_load",
        "polling",
        "web_load",
        "search",
        "worklist",
        "chain",
        "history",
    ]
    # Parts of a benchmark above, run alone only when named.
    parts = ["chain_pages", "chain_bulk", "chain_preview", "chain_run"]
    parser.add_argument("--only", choices=benchmarks + parts, action="append")
    parser.add_argument(
        "--stores", type=int, help="chain_run: stores of the chain (5 registers each)"
    )
    args = parser.parse_args()
    sizes = SIZES["quick" if args.quick else "full"]
    chosen = args.only or benchmarks
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        if "build" in chosen or "incremental" in chosen:
            rows += catalogue_benchmarks(sizes, Path(scratch), chosen)
        if "fanout" in chosen:
            rows += fanout_benchmark(sizes["stores"], Path(scratch))
        if "uploads" in chosen:
            sales = SALES["quick" if args.quick else "full"]
            rows += upload_benchmarks(sales, Path(scratch), step)
        if "device_load" in chosen:
            rows += device_load_benchmark(sizes["agents"], Path(scratch), step)
        if "polling" in chosen:
            rows += polling_benchmark(args.quick, Path(scratch), step)
        if "web_load" in chosen:
            rows += web_load_benchmark(sizes, Path(scratch), step)
        if "search" in chosen:
            rows += search_benchmark(sizes, Path(scratch), step, args.quick)
        if "worklist" in chosen:
            rows += worklist_benchmark(Path(scratch), step, args.quick)
        if "chain" in chosen:
            rows += chain_benchmark(args.quick, Path(scratch), step)
        if "chain_pages" in chosen:
            rows += chain_pages_benchmark(args.quick, Path(scratch), step)
        if "chain_preview" in chosen:
            rows += chain_preview_benchmark(args.quick, Path(scratch), step)
        if "chain_bulk" in chosen:
            rows += bulk_enable_benchmark(args.quick, scratch, step)
        if "chain_run" in chosen:
            rows += chain_run_benchmark(args.quick, args.stores, Path(scratch), step)
        if "history" in chosen:
            rows += history_benchmark(sizes["history_stores"], Path(scratch), step)
    print(
        f"\n### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n"
    )
    print("| benchmark | figure | baseline (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def catalogue_benchmarks(sizes: dict, scratch: Path, chosen: list[str]) -> list[tuple]:
    """Full build speed and memory, and incremental cost, on a small and a large catalogue."""
    results = {}
    for label, products in (("small", sizes["small"]), ("large", sizes["catalogue"])):
        with portal_on_fresh_database(label, str(scratch / label)):
            step(f"{label} catalogue: seeding {products:,} products")
            fixtures.catalogue(products)
            fixtures.schedule("PRODUCTS", PRODUCT_JOBS, ["Bench"])
            results[label] = measure_catalogue(
                scratch / label, label == "large" and "build" in chosen
            )
    small, large = results["small"], results["large"]
    rows = []
    if "build" in chosen:
        ours, copy = large["build_rows_s"], large["copy_rows_s"]
        rows.append(
            (
                f"full package build, {sizes['catalogue']:,} products",
                f"{ours:,.0f} rows/s",
                f"{copy:,.0f} rows/s (COPY)",
                f"{ours / copy:.2f}",
                "≥ 0.5",
            )
        )
        rows.append(
            (
                "peak memory of a full build, large vs small catalogue",
                f"{large['peak_mb']:.1f} MB",
                f"{small['peak_mb']:.1f} MB",
                f"{large['peak_mb'] / small['peak_mb']:.2f}",
                "flat (≈ 1)",
            )
        )
    if "incremental" in chosen:
        rows.append(
            (
                f"incremental package, {CHANGED} changed products",
                f"{large['incremental_s'] * 1000:.0f} ms ({sizes['catalogue']:,} products)",
                f"{small['incremental_s'] * 1000:.0f} ms ({sizes['small']:,} products)",
                f"{large['incremental_s'] / small['incremental_s']:.2f}",
                "≤ 1.5",
            )
        )
    return rows


def measure_catalogue(scratch: Path, with_build: bool) -> dict:
    """Time a full run, its COPY baseline, the build's peak memory and an incremental run."""
    figures = {}
    if with_build:
        step("full run")
        started = time.perf_counter()
        rows = fixtures.run("PRODUCTS")
        seconds = time.perf_counter() - started
        figures["build_rows_s"] = rows / seconds
        step("COPY baseline")
        figures["copy_rows_s"] = copy_export_rows_per_second()
    else:
        fixtures.run("PRODUCTS")
    step("peak memory of a build")
    figures["peak_mb"] = build_peak_memory(scratch)
    step(f"changing {CHANGED} products")
    changed = [{"product_number": product_number(i), "unit": "ea"} for i in range(1, CHANGED + 1)]
    masterdata.upsert(Product, ("product_number",), changed)
    db.session.commit()
    step("incremental run")
    started = time.perf_counter()
    fixtures.run("PRODUCTS")
    figures["incremental_s"] = time.perf_counter() - started
    return figures


def _store_tables():
    database = db.session.scalar(sa.select(ChannelDatabase).filter_by(name="BENCH"))
    jobs = db.session.scalars(
        sa.select(SchedulerJob).where(SchedulerJob.job_number.in_(PRODUCT_JOBS))
    )
    tables = [t for job in jobs for t in tables_for(database, job)]
    return target_of(database), tables


def copy_export_rows_per_second() -> float:
    """PostgreSQL exporting the same selects as plain COPY text into nothing."""
    target, tables = _store_tables()
    upto = committed_version(db.session.connection())
    raw = db.session.connection().connection.dbapi_connection
    rows = 0
    started = time.perf_counter()
    for table in tables:
        for stmt in TABLES[table].selects(target, 0, upto, True):
            sql = str(stmt.compile(db.session.connection(), compile_kwargs={"literal_binds": True}))
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY ({sql}) TO STDOUT") as copy:
                    for _ in copy:
                        pass
                rows += cursor.rowcount
    return rows / (time.perf_counter() - started)


def build_peak_memory(scratch: Path) -> float:
    """Peak Python memory (MB) while writing the store's full package once more."""
    target, tables = _store_tables()
    upto = committed_version(db.session.connection())
    connection = db.session.connection()
    exports = (
        (
            t,
            [
                TableExport(connection, s, i == 0)
                for i, s in enumerate(TABLES[t].selects(target, 0, upto, True))
            ],
        )
        for t in tables
    )
    tracemalloc.start()
    write_package(scratch / "memory", "0" * 64, {}, exports)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def fanout_benchmark(store_count: int, scratch: Path) -> list[tuple]:
    """Time per target of a run for many stores against a run for a single one."""
    with portal_on_fresh_database("fanout", str(scratch / "fanout")):
        fixtures.catalogue(0, "SOLO")
        fixtures.tax_data()
        step(f"fan-out: {store_count} stores with 4 offline registers each")
        channels.create_group("Fan", "Fan-out stores")
        db.session.commit()
        fixtures.stores_with_offline_registers(store_count, 4, "Fan")
        fixtures.schedule("SOLO", ["1080"], ["Bench"])
        fixtures.schedule("FAN", ["1080"], ["Fan"])
        targets = store_count * 5
        step(f"fan-out run, {targets} targets")
        started = time.perf_counter()
        fixtures.run("FAN")
        fan = (time.perf_counter() - started) / targets
        # A change first, so the single run builds its own package rather than reusing one.
        fixtures.tax_data_change()
        step("single-target run")
        started = time.perf_counter()
        fixtures.run("SOLO")
        single = time.perf_counter() - started
    return [
        (
            f"1080 run for {store_count:,} stores × 4 offline registers ({targets:,} targets)",
            f"{fan * 1000:.1f} ms per target",
            f"{single * 1000:.1f} ms (one target)",
            f"{fan / single:.3f}",
            "≤ 0.1",
        )
    ]


def step(text: str) -> None:
    """Say what is happening: the full benchmark takes minutes."""
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


if __name__ == "__main__":
    main()
