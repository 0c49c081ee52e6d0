"""The scheduler's worklist at 50,000 databases: each tab's p99 against the 500 ms page target,
beside the same at 500 databases.

Each size gets a fresh database loaded in bulk with SQL (the services would take hours for
50,000 databases): one store's channel database per row, each with an applied package, one in
ten with a package waiting (one in a hundred for hours), one in two hundred with a failed one,
and a heartbeat from all but one in fifty. A signed-in scheduler then asks every tab of the
worklist in process, through the whole view (counts, grouped queries, page, template).
"""

import re
import time
from pathlib import Path

import sqlalchemy as sa

from bench import fixtures
from bench.database import portal_on_fresh_database
from bench.server import ms, percentile
from portal.auth import services as auth
from portal.core.extensions import db
from portal.distribution import runs
from portal.distribution import services as distribution
from portal.setup.channels import services as channels
from portal.setup.stores import services as stores

EMAIL = "worklist@bench.example"
PASSWORD = "bench-password-1"
REPEATS = {"full": 20, "quick": 5}
# The page target the web_load benchmark holds the list pages to. The counts of silent and
# behind databases scan every database once, so the time grows with the fleet; the ratio shows
# by how much.
TARGET_MS = 500
SIZES = {"full": (500, 50_000), "quick": (200, 5_000)}
TABS = ("sessions", "runs", "behind", "silent")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

_LOAD = """
INSERT INTO channel_database (name, kind, store_id, channel_data_group_id, active, activated_at,
                              created_at, updated_at)
SELECT 'W-' || g, 'channel', :store, :grp, true, now() - interval '2 days', now(), now()
FROM generate_series(1, :count) AS g;

INSERT INTO download_session (run_id, channel_database_id, job_number, kind, status, message,
                              tries, failed_tries, build_attempts, requested_at, updated_at)
SELECT :run, d.id, '1080', 'full', 'applied', '', 1, 0, 1, now() - interval '1 day', now()
FROM channel_database d WHERE d.name LIKE 'W-%';

INSERT INTO download_session (run_id, channel_database_id, job_number, kind, status, message,
                              tries, failed_tries, build_attempts, requested_at, updated_at)
SELECT :run, d.id, '1040',  'incremental',
       CASE WHEN d.id % 200 = 0 THEN 'apply_failed' ELSE 'available' END,
       CASE WHEN d.id % 200 = 0 THEN 'table locked' ELSE '' END,
       1, CASE WHEN d.id % 200 = 0 THEN 3 ELSE 0 END, 1,
       now() - CASE WHEN d.id % 100 = 0 THEN interval '3 hours' ELSE interval '5 minutes' END,
       now()
FROM channel_database d WHERE d.name LIKE 'W-%' AND (d.id % 10 = 0 OR d.id % 200 = 0);

INSERT INTO device_status (channel_database_id, reported_at, mode, pending_uploads,
                           app_version)
SELECT d.id, now() - interval '1 minute', 'online', 0, 'bench'
FROM channel_database d WHERE d.name LIKE 'W-%' AND d.id % 50 <> 0;
"""


def worklist_benchmark(scratch: Path, step, quick: bool) -> list[tuple]:
    """Every worklist tab's p99 with many databases against the same with few."""
    repeats = REPEATS["quick" if quick else "full"]
    few, many = SIZES["quick" if quick else "full"]
    timings = {}
    for label, count in (("few", few), ("many", many)):
        folder = str(scratch / f"worklist_{label}")
        with portal_on_fresh_database(f"worklist_{label}", folder) as app:
            step(f"worklist: loading {count:,} databases")
            _load(count, _seed())
            auth.create_user(EMAIL, "scheduler", PASSWORD)
            db.session.commit()
            step(f"worklist: {repeats} rounds of the tabs, {count:,} databases")
            timings[label] = _measure(app, repeats, step)
    slow, base = percentile(timings["many"], 0.99), percentile(timings["few"], 0.99)
    return [
        (
            f"worklist tabs p99, {len(timings['many']):,} requests",
            f"{ms(slow)} ({many:,} databases)",
            f"{ms(base)} ({few:,} databases)",
            f"{slow / base:.2f}",
            f"p99 ≤ {TARGET_MS} ms",
        )
    ]


def _seed() -> dict[str, int]:
    """The benchmark store, its group and schedule, and one run the loaded sessions belong to."""
    distribution.ensure_standard_jobs()
    fixtures.store_references("BENCH")
    channels.create_group("Bench", "Benchmark stores")
    store = stores.create_store(
        {
            "store_number": "BENCH",
            "name": "Benchmark store",
            "currency": "USD",
            "tax_group": "TX",
            "time_zone": "America/Chicago",
            "channel_data_group": "Bench",
        }
    )
    fixtures.schedule("TAX", ["1080"], ["Bench"])
    run = runs.request_run(distribution.get_schedule("TAX"))
    run.status = "done"
    db.session.commit()
    return {"store": store.id, "grp": store.channel_data_group_id, "run": run.id}


def _load(count: int, ids: dict[str, int]) -> None:
    for statement in filter(str.strip, _LOAD.split(";")):
        db.session.execute(sa.text(statement), {**ids, "count": count})
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            sa.text("VACUUM (ANALYZE) channel_database, download_session, device_status")
        )


def _measure(app, repeats: int, step) -> list[float]:
    client = app.test_client()
    form = client.get("/login")
    match = _CSRF.search(form.get_data(as_text=True))
    answer = client.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": match[1] if match else ""},
    )
    if answer.status_code != 302:
        raise SystemExit(f"worklist: could not sign in ({answer.status_code})")
    timings: dict[str, list[float]] = {}
    for round_ in range(repeats + 1):
        for tab in TABS:
            started = time.perf_counter()
            response = client.get("/worklist/", query_string={"show": tab})
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"worklist: tab {tab} answered {response.status_code}")
            if round_:  # the first round warms the caches and is not counted
                timings.setdefault(tab, []).append(seconds)
    for tab, seconds in timings.items():
        step(f"  {tab}: p50 {ms(percentile(seconds, 0.5))}, max {ms(max(seconds))}")
    return [s for seconds in timings.values() for s in seconds]
