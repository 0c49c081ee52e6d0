"""Real workers build runs; a worker killed mid-build leaves nothing visible and loses nothing."""

import os
import signal
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from celery import Celery

from portal.core.extensions import db
from portal.distribution import runs
from portal.distribution import services as distribution
from portal.distribution.models import DataPackage, DistributionRun, DownloadSession
from portal.distribution.package_files import file_sha256
from portal.masterdata.products import Product
from portal.masterdata.versioning import transaction_version
from tests.workers import delete_queue, wait_for, worker_process

# Enough rows that a full package takes a few seconds to write: time to kill the worker.
CATALOGUE_SIZE = 150_000


@pytest.fixture
def broker(tmp_path, monkeypatch):
    """Redis when the run has it, else the embedded broker; one queue per test."""
    url = os.environ.get("REDIS_URL") or f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    queue = f"test-{uuid.uuid4().hex[:10]}"
    with Celery(broker=url, set_as_current=False) as client:
        yield url, queue, client
        delete_queue(client, queue)


@pytest.fixture
def big_catalogue(stores_group):
    """Many products, written in one transaction with one change version."""
    version = transaction_version(db.session)
    rows = [
        {
            "product_number": f"P{n:07d}",
            "name": f"Product {n}",
            "unit": "pcs",
            "base_price": Decimal("9.99"),
            "row_version": version,
            "deleted": False,
        }
        for n in range(CATALOGUE_SIZE)
    ]
    db.session.execute(sa.insert(Product), rows)
    distribution.create_schedule({"code": "1040", "jobs": ["1040"], "groups": ["Stores"]})
    db.session.commit()


def status_of(run_id: int) -> str:
    status = db.session.scalar(sa.select(DistributionRun.status).filter_by(id=run_id))
    db.session.rollback()  # end the read so the next poll sees the worker's commits
    return status


@pytest.mark.usefixtures("stores_group")
def test_worker_builds_a_run(broker, database_uri, tmp_path):
    url, queue, client = broker
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    with worker_process(url, queue, database_uri, tmp_path, tmp_path / "worker.log") as worker:
        client.send_task("distribution.start_run", args=[run.id], queue=queue)
        wait_for(lambda: status_of(run.id) == "done", worker, tmp_path / "worker.log", "the run")
    statuses = db.session.scalars(sa.select(DownloadSession.status).filter_by(run_id=run.id))
    assert sorted(statuses) == ["available"] * 3


@pytest.mark.usefixtures("stores_group")
def test_worker_nice_lowers_the_worker_s_cpu_priority(broker, database_uri, tmp_path, monkeypatch):
    url, queue, _ = broker
    monkeypatch.setenv("WORKER_NICE", "5")
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    with worker_process(url, queue, database_uri, tmp_path, tmp_path / "worker.log") as worker:
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(ours + 5, 19)


@pytest.mark.usefixtures("big_catalogue")
def test_worker_killed_mid_build_leaves_no_partial_package_and_the_rebuild_happens_once(
    broker, database_uri, tmp_path
):
    url, queue, client = broker
    log = tmp_path / "worker.log"
    packages = tmp_path / "packages"
    run = runs.request_run(distribution.get_schedule("1040"))
    db.session.commit()

    with worker_process(url, queue, database_uri, tmp_path, log) as worker:
        client.send_task("distribution.start_run", args=[run.id], queue=queue)
        wait_for(lambda: any(packages.rglob("*.partial")), worker, log, "a build to start")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()

    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataPackage)) == 0
    assert not list(packages.rglob("*.zip")), "a package file appeared before its build ended"
    assert status_of(run.id) == "running"

    # What the beat tick does for builds that stopped moving (here without waiting for it).
    lost = runs.reap_lost_builds(timedelta(0), max_attempts=3)
    db.session.commit()
    assert [len(batch) for batch in lost] == [1, 1, 1]  # a build lost before goes alone
    with worker_process(url, queue, database_uri, tmp_path, log) as worker:
        for batch in lost:
            client.send_task("distribution.build_packages", args=[batch], queue=queue)
        wait_for(lambda: status_of(run.id) == "done", worker, log, "the rebuilt run")

    (package,) = db.session.scalars(sa.select(DataPackage))
    assert package.row_counts["product"] == CATALOGUE_SIZE
    assert file_sha256(packages / package.path) == package.sha256
    sessions = list(db.session.scalars(sa.select(DownloadSession).filter_by(run_id=run.id)))
    assert {(s.status, s.package_id) for s in sessions} == {("available", package.id)}
    assert [Path(p).name for p in packages.rglob("*.zip")] == [Path(package.path).name]


def builds_done(*logs: Path) -> int:
    """How many tasks the workers writing these logs finished."""
    return sum(log.read_text().count("succeeded") for log in logs)


@pytest.mark.usefixtures("stores_group")
def test_two_workers_building_the_same_sessions_at_once_make_one_package_per_content(
    broker, database_uri, tmp_path
):
    url, queue, client = broker
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    session_ids = runs.plan_run(run.id)
    db.session.commit()
    first, second = tmp_path / "first.log", tmp_path / "second.log"

    with (
        worker_process(url, queue, database_uri, tmp_path, first) as one,
        worker_process(url, queue, database_uri, tmp_path, second),
    ):
        # The same build handed out twice, as a redelivery racing the first delivery would be.
        for _ in range(2):
            client.send_task("distribution.build_packages", args=[session_ids], queue=queue)
        wait_for(lambda: status_of(run.id) == "done", one, first, "the run")
        # Both deliveries built (by one worker each, unless one worker was quicker to take both).
        wait_for(lambda: builds_done(first, second) == 2, one, first, "both builds")

    sessions = list(db.session.scalars(sa.select(DownloadSession).filter_by(run_id=run.id)))
    assert {s.status for s in sessions} == {"available"}
    # Two Texas stores share one content; the Washington store has its own.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DataPackage)) == 2
    assert len({s.package_id for s in sessions}) == 2
    finished = db.session.get(DistributionRun, run.id)
    assert (finished.sessions_done, finished.sessions_total) == (3, 3)
    assert len(list((tmp_path / "packages").rglob("*.zip"))) == 2
