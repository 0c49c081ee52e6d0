"""`--only history`: 30 days of hourly runs of 10 jobs over many databases, history bounded.

Time is simulated: the sessions and runs of 29 days are written by SQL with their timestamps (as
the rules leave them: a session only where a change reached a database, the rest counted on the
run), the real pruning runs once a simulated day, and the master data changes of every hour are
real. Two runs are real and timed: one on day 1, one on day 30, each after a few changes.
"""

import random
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench import fixtures
from bench.database import portal_on_fresh_database
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import history, parameters
from portal.distribution.builds import scope_key
from portal.distribution.models import (
    FULL,
    INCREMENTAL,
    RUN_DONE,
    SESSION_APPLIED,
    DistributionRun,
    DownloadSession,
)
from portal.distribution.services import get_schedule
from portal.distribution.targets import deliveries, target_of
from portal.masterdata import services as masterdata
from portal.masterdata.configuration import StoreSettings
from portal.masterdata.versioning import committed_version
from portal.setup.channels import services as channels
from portal.setup.models import ChannelDatabase, Store

JOBS = ["1000", "1010", "1020", "1040", "1060", "1070", "1080", "1090", "1110", "1150"]
DAYS = 30
# Store changes an hour per 1,000 stores (at least one): a few an hour at full size.
CHANGES_PER_HOUR = 3
# A week of sessions is kept here (30 days by default) so the pruning is part of what is timed.
HISTORY_DAYS = 7
REGISTERS_PER_STORE = 4
REPEATS = 2


def history_benchmark(stores: int, scratch: Path, step) -> list[tuple]:
    """Session rows after 30 simulated days against databases × jobs; day 30's run vs day 1's."""
    random.seed(15)
    with portal_on_fresh_database("history", str(scratch / "history")):
        fixtures.catalogue(0, "SOLO")
        channels.create_group("Chain", "The chain's stores")
        db.session.commit()
        step(f"history: {stores:,} stores with {REGISTERS_PER_STORE} offline registers each")
        fixtures.stores_with_offline_registers(stores, REGISTERS_PER_STORE, "Chain")
        fixtures.schedule("HOURLY", JOBS, ["Chain"])
        parameters.update({"session_history_days": HISTORY_DAYS})
        db.session.commit()
        databases = stores * (1 + REGISTERS_PER_STORE)
        step("history: every database's first full packages, applied (set up by SQL)")
        pairs = _seed_positions()
        start = utcnow() - timedelta(days=DAYS)
        # The first run after the full packages sends each target its setup snapshots (1090)
        # once more, with their rows' digest: the hourly routine starts after it.
        step("history: first hourly run (real, not timed)")
        fixtures.run("HOURLY")
        step("history: day 1 runs (real)")
        day_one = _timed_run(stores)
        step(f"history: simulating {DAYS - 1} days of hourly runs")
        for day in range(1, DAYS):
            _simulate_day(start + timedelta(days=day), stores, pairs)
            history.prune_sessions(timedelta(days=HISTORY_DAYS), start + timedelta(days=day + 1))
            db.session.commit()
        step("history: day 30 runs (real)")
        day_thirty = _timed_run(stores)
        history.prune_sessions(timedelta(days=HISTORY_DAYS))
        db.session.commit()
        rows = db.session.scalar(sa.select(sa.func.count()).select_from(DownloadSession))
        runs = db.session.scalar(sa.select(sa.func.count()).select_from(DistributionRun))
    product = databases * len(JOBS)
    return [
        (
            f"download session rows after {DAYS} days of hourly runs of {len(JOBS)} jobs, "
            f"{databases:,} databases ({runs:,} runs kept)",
            f"{rows:,} rows",
            f"{product:,} (databases × jobs; {pairs:,} pairs receive something)",
            f"{rows / product:.2f}",
            "≤ 3",
        ),
        (
            f"a run of {len(JOBS)} jobs over {databases:,} databases on day {DAYS}",
            f"{day_thirty:.1f} s",
            f"{day_one:.1f} s (day 1)",
            f"{day_thirty / day_one:.2f}",
            "≤ 1.2",
        ),
    ]


def _seed_positions() -> int:
    """One applied full session per database and job, as a first full run leaves them."""
    schedule = get_schedule("HOURLY")
    version = committed_version(db.session.connection())
    run = DistributionRun(
        schedule=schedule,
        status=RUN_DONE,
        requested_by="bench",
        watermark=version,
        started_at=utcnow() - timedelta(days=DAYS),
        finished_at=utcnow() - timedelta(days=DAYS),
        requested_at=utcnow() - timedelta(days=DAYS),
    )
    db.session.add(run)
    db.session.flush()
    at = utcnow() - timedelta(days=DAYS)
    rows = [
        {
            "run_id": run.id,
            "channel_database_id": item.database.id,
            "job_number": item.job.job_number,
            "kind": FULL,
            "scope_key": scope_key(item.tables, _target(item.database)),
            "base_version": 0,
            "new_version": version,
            "status": SESSION_APPLIED,
            "message": "",
            "tries": 1,
            "build_attempts": 1,
            "requested_at": at,
            "updated_at": at,
        }
        for item in deliveries(schedule)
    ]
    db.session.execute(sa.insert(DownloadSession), rows)
    run.sessions_total = run.sessions_done = len(rows)
    db.session.commit()
    return len(rows)


_targets: dict[int, object] = {}


def _target(database):
    if database.id not in _targets:
        _targets[database.id] = target_of(database)
    return _targets[database.id]


def _changes(stores: int) -> int:
    return max(1, CHANGES_PER_HOUR * stores // 1_000)


def _change_stores(stores: int, count: int) -> list[str]:
    """Real changes: `count` stores' settings (job 1070), each reaching that store's databases."""
    numbers = [f"S{random.randrange(stores):05d}" for _ in range(count)]
    for number in numbers:
        masterdata.upsert(
            StoreSettings,
            ("store_number",),
            [{"store_number": number, "receipt_prefix": f"R{random.randrange(10**9)}"}],
        )
        db.session.commit()
    return numbers


def _timed_run(stores: int) -> float:
    """The quicker of two hourly runs, each after its hour's changes (a shared machine is noisy)."""
    times = []
    for _ in range(REPEATS):
        _change_stores(stores, _changes(stores))
        started = time.perf_counter()
        fixtures.run("HOURLY")
        times.append(time.perf_counter() - started)
    return min(times)


def _simulate_day(day, stores: int, pairs: int) -> None:
    """24 hourly runs as the rules leave them: sessions only where a change arrived."""
    schedule_id = get_schedule("HOURLY").id
    for hour in range(24):
        at = day + timedelta(hours=hour)
        changed = _change_stores(stores, _changes(stores))
        version = committed_version(db.session.connection())
        run_id = db.session.scalar(
            sa.insert(DistributionRun)
            .values(
                schedule_id=schedule_id,
                full_sync=False,
                status=RUN_DONE,
                requested_by="bench",
                requested_at=at,
                started_at=at,
                finished_at=at + timedelta(minutes=1),
                watermark=version,
                message="",
            )
            .returning(DistributionRun.id)
        )
        sessions = []
        for number in set(changed):
            for database_id, position in _positions(number).items():
                sessions.append(
                    {
                        "run_id": run_id,
                        "channel_database_id": database_id,
                        "job_number": "1070",
                        "kind": INCREMENTAL,
                        "scope_key": position.scope_key,
                        "base_version": position.new_version,
                        "new_version": version,
                        "status": SESSION_APPLIED,
                        "message": "",
                        "tries": 1,
                        "build_attempts": 1,
                        "requested_at": at,
                        "updated_at": at + timedelta(minutes=5),
                    }
                )
        if sessions:
            db.session.execute(sa.insert(DownloadSession), sessions)
        # The others had nothing new: the run moves their position on, as the builds do.
        _move_positions(version)
        db.session.execute(
            sa.update(DistributionRun)
            .where(DistributionRun.id == run_id)
            .values(
                sessions_total=pairs,
                sessions_done=pairs,
                sessions_no_data=pairs - len(sessions),
            )
        )
        db.session.commit()


def _move_positions(version: int) -> None:
    """Every target's last offered session now reaches `version` (no_data moves it so)."""
    later = sa.orm.aliased(DownloadSession)
    newest = ~sa.exists().where(
        later.channel_database_id == DownloadSession.channel_database_id,
        later.job_number == DownloadSession.job_number,
        later.id > DownloadSession.id,
    )
    db.session.execute(
        sa.update(DownloadSession)
        .where(newest, DownloadSession.new_version < version)
        .values(offered_through=version, updated_at=DownloadSession.updated_at)
        .execution_options(synchronize_session=False)
    )


def _positions(store_number: str) -> dict[int, DownloadSession]:
    """The latest 1070 session of each database of a store."""
    rows = db.session.scalars(
        sa.select(DownloadSession)
        .join(ChannelDatabase, ChannelDatabase.id == DownloadSession.channel_database_id)
        .join(Store, Store.id == ChannelDatabase.store_id)
        .where(Store.store_number == store_number, DownloadSession.job_number == "1070")
        .order_by(DownloadSession.id)
    )
    return {row.channel_database_id: row for row in rows}
