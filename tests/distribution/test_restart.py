"""Portal and worker killed mid-run: the run still ends, and a build lost every time fails.

Real processes throughout: gunicorn serving the portal, Celery workers, PostgreSQL and Redis. A
build is held half-way by a gate the test owns, so every kill lands mid-build, not by luck.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import builds
from portal.distribution import services as distribution
from portal.distribution.models import (
    FULL,
    DataPackage,
    DistributionRun,
    DownloadSession,
    SchedulerJob,
)
from portal.distribution.package_files import file_sha256
from portal.distribution.targets import tables_for, target_of
from portal.masterdata.versioning import committed_version
from portal.setup.models import ChannelDatabase
from tests.factories import GroupFactory, ProfileFactory, StoreFactory
from tests.workers import ROOT, delete_queue, wait_for, worker_process

# Two build batches: the first is committed when the worker dies in the second.
STORES = builds.BATCH_SIZE + 10
HELD_STORE = f"T{builds.BATCH_SIZE + 5:03d}"  # the one Washington store, mid-way in batch two


@pytest.fixture(autouse=True)
def _postgresql_and_redis(app_ctx):
    if db.engine.dialect.name != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("holding a build mid-way needs PostgreSQL's locks; workers need real Redis")


@pytest.fixture
def redis_queue(app):
    """The broker and queue of the test app's tasks (its own queue on the real Redis).

    Emptied when the test ends, so no task of this test reaches another test's worker.
    """
    celery = app.extensions["celery"]
    # The views queue tasks through the current Celery app; another test's app may have taken over.
    celery.set_current()
    queue = celery.conf.task_default_queue
    yield celery.conf.broker_url, queue
    delete_queue(celery, queue)


class PackageGate:
    """Holds back the build of one target's package half-way, until the test opens it.

    The test inserts, and does not commit, a package row with the content key the build will
    compute; the build writes its file, then its own insert of that key waits on the test's row.
    """

    def __init__(self, database_name: str):
        database = db.session.scalar(sa.select(ChannelDatabase).filter_by(name=database_name))
        job = db.session.scalar(sa.select(SchedulerJob).filter_by(job_number="1080"))
        # The run's watermark: nothing is written to master data before it starts.
        fields = {
            "kind": FULL,
            "base_version": 0,
            "new_version": committed_version(db.session.connection()),
            "scope_key": builds.scope_key(tables_for(database, job), target_of(database)),
        }
        db.session.rollback()
        self.connection = db.engine.connect()
        self.connection.execute(
            sa.insert(DataPackage).values(
                content_key=builds.content_key_of("1080", fields),
                job_number="1080",
                kind=FULL,
                base_version=0,
                new_version=fields["new_version"],
                path="held",
                size=0,
                sha256="0" * 64,
                row_counts={},
            )
        )

    @staticmethod
    def _waiting(statement: str) -> int:
        with db.engine.connect() as probe:
            return probe.scalar(
                sa.text(
                    f"SELECT {statement} FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )

    def reached(self) -> bool:
        """Whether a build is waiting at the gate."""
        return self._waiting("count(*)") > 0

    def drop_dead(self) -> None:
        """End the connections of builds whose worker was killed at the gate.

        PostgreSQL would notice the dead client only once the gate opens; ending them now leaves
        nothing waiting, so the next `reached` is the next build's.
        """
        self._waiting("count(pg_terminate_backend(pid))")
        deadline = time.monotonic() + 10
        while self.reached():
            assert time.monotonic() < deadline, "a killed build's connection stayed open"
            time.sleep(0.05)

    def open(self) -> None:
        """Let held builds through from now on."""
        if not self.connection.closed:
            self.connection.rollback()
            self.connection.close()


@pytest.fixture
def gate():
    """`gate(name)` holds back the package build of the channel database `name`."""
    gates = []

    def hold(database_name: str) -> PackageGate:
        gates.append(PackageGate(database_name))
        return gates[-1]

    yield hold
    for held in gates:
        held.open()


@contextmanager
def portal_process(broker: str, queue: str, database_uri: str, tmp_path: Path, log: Path):
    """gunicorn serving the portal on a free port, as in production; yields it and its URL.

    It runs in a process group of its own, so the test can kill the master and its worker at once.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "gunicorn", "app:app",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--graceful-timeout", "5",
    ]  # fmt: skip
    env = {
        **os.environ,
        "REDIS_URL": broker,
        "DATABASE_URL": database_uri,
        "CELERY_QUEUE": queue,
        "SECRET_KEY": "portal-under-test",
        "PACKAGE_STORE": str(tmp_path / "packages"),
    }
    with log.open("a") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: answers(url), process, log, "the portal to start")
        yield process, url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)


def answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/login", timeout=1)
    except httpx.TransportError:
        return False
    return True


def kill(process: subprocess.Popen, group: bool = False) -> None:
    """SIGKILL, as a crash or an out-of-memory kill would; with `group`, its children too."""
    if group:
        os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
    process.wait()


def run_row(run_id: int) -> DistributionRun:
    run = db.session.get(DistributionRun, run_id)
    db.session.refresh(run)
    db.session.rollback()  # end the read so the next poll sees the workers' commits
    return run


def age_requested_sessions(run_id: int, minutes: int) -> None:
    """Make the run's unfinished builds look `minutes` old, as if that much time had passed."""
    db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.run_id == run_id, DownloadSession.status == "requested")
        .values(updated_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


@pytest.fixture
def many_stores(tax_data):
    """Schedule 1080 for a group of Texas stores with one Washington store among them."""
    distribution.ensure_standard_jobs()
    GroupFactory(name="Stores")
    profile = ProfileFactory().name
    for n in range(STORES):
        number = f"T{n:03d}"
        tax_group = "WA" if number == HELD_STORE else "TX"
        StoreFactory(
            store_number=number,
            tax_group=tax_group,
            channel_data_group="Stores",
            offline_profile=profile,
        )
    distribution.create_schedule(
        {"code": "1080", "name": "Sales tax", "jobs": ["1080"], "groups": ["Stores"]}
    )
    db.session.commit()


@pytest.mark.usefixtures("many_stores")
def test_portal_and_worker_killed_mid_run_the_run_still_ends_with_one_package_per_target(
    app, redis_queue, token_for, gate, database_uri, tmp_path
):
    broker, queue = redis_queue
    headers = token_for("hq")
    held = gate(HELD_STORE)
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    stalled_minutes = app.config["STALLED_BUILD_MINUTES"]

    with (
        portal_process(broker, queue, database_uri, tmp_path, web_log) as (web, url),
        worker_process(broker, queue, database_uri, tmp_path, worker_log) as worker,
    ):
        answer = httpx.post(
            f"{url}/api/v1/distribution-schedules/1080/runs", json={"full": True}, headers=headers
        )
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["id"]
        wait_for(held.reached, worker, worker_log, "the second batch to reach the held package")
        run = run_row(run_id)
        assert (run.status, run.sessions_done, run.sessions_total) == (
            "running",
            builds.BATCH_SIZE,
            STORES,
        )
        kill(web, group=True)
        kill(worker)
    held.drop_dead()
    held.open()

    # A quarter of an hour later the portal and a worker are back, and beat's tick comes.
    age_requested_sessions(run_id, stalled_minutes + 1)
    with (
        portal_process(broker, queue, database_uri, tmp_path, web_log) as (web, url),
        worker_process(broker, queue, database_uri, tmp_path, worker_log) as worker,
    ):
        app.extensions["celery"].send_task("distribution.tick")
        wait_for(lambda: run_row(run_id).status != "running", worker, worker_log, "the run")
        answer = httpx.get(f"{url}/api/v1/runs/{run_id}", headers=headers).json()

    assert answer["status"] == "done", answer["message"]
    assert answer["progress"]["sessions_done"] == answer["progress"]["sessions_total"] == STORES
    sessions = list(db.session.scalars(sa.select(DownloadSession).filter_by(run_id=run_id)))
    targets = [session.channel_database.name for session in sessions]
    assert sorted(targets) == [f"T{n:03d}" for n in range(STORES)]  # one session each
    assert {session.status for session in sessions} == {"available"}
    packages = {package.id: package for package in db.session.scalars(sa.select(DataPackage))}
    assert len(packages) == 2
    assert {session.package_id for session in sessions} == set(packages)
    # All Texas stores share one package; the Washington store has its own, built once.
    (held_session,) = [s for s in sessions if s.channel_database.name == HELD_STORE]
    assert [s.package_id == held_session.package_id for s in sessions].count(True) == 1
    for package in packages.values():
        assert file_sha256(tmp_path / "packages" / package.path) == package.sha256


@pytest.mark.usefixtures("stores_group")
def test_a_build_lost_every_time_fails_after_the_limit_and_its_retry_ends_the_run(
    app, client, login, redis_queue, gate, database_uri, tmp_path
):
    broker, queue = redis_queue
    celery = app.extensions["celery"]
    limit, stalled_minutes = app.config["MAX_BUILD_ATTEMPTS"], app.config["STALLED_BUILD_MINUTES"]
    login("scheduler")
    # Seattle's package kills the worker that builds it, every time.
    held = gate("SEATTLE")
    log = tmp_path / "worker.log"
    assert client.post("/distribution/schedules/1080/run").status_code == 302
    run_id = db.session.scalar(sa.select(DistributionRun.id))
    db.session.rollback()

    for lost in range(1, limit + 1):
        with worker_process(broker, queue, database_uri, tmp_path, log) as worker:
            if lost > 1:
                celery.send_task("distribution.tick")
            wait_for(held.reached, worker, log, f"build {lost} to reach Seattle's package")
            kill(worker)
        held.drop_dead()
        assert run_row(run_id).status == "running"
        age_requested_sessions(run_id, stalled_minutes + 1)

    with worker_process(broker, queue, database_uri, tmp_path, log) as worker:
        celery.send_task("distribution.tick")
        wait_for(lambda: run_row(run_id).status == "failed", worker, log, "the run to fail")
        seattle = db.session.scalar(
            sa.select(DownloadSession)
            .join(DownloadSession.channel_database)
            .filter_by(name="SEATTLE")
        )
        message = f"Build lost {limit} times; retry it from the run page."
        assert (seattle.status, seattle.message, seattle.build_attempts) == (
            "create_failed",
            message,
            limit,
        )
        run = run_row(run_id)
        assert (run.sessions_done, run.sessions_failed) == (3, 1)
        page = client.get(f"/distribution/runs/{run_id}").text
        assert message in page and "1 package(s) could not be built." in page
        assert f'aria-label="Retry session {seattle.id}"' in page
        assert "Retry failed sessions" in page

        held.open()  # whatever broke the build is fixed
        retried = client.post(f"/distribution/runs/{run_id}/retry", follow_redirects=True)
        assert "1 session(s) are requested again" in retried.text
        wait_for(lambda: run_row(run_id).status == "done", worker, log, "the retried run")

    run = run_row(run_id)
    assert (run.sessions_done, run.sessions_failed, run.message) == (3, 0, "")
    db.session.refresh(seattle)
    assert (seattle.status, seattle.build_attempts) == ("available", 1)
