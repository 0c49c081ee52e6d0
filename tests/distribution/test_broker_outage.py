"""Redis stopped for real while HQ works: pages go on, a triggered run waits, then runs."""

import shutil
import socket
import subprocess

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution import tasks
from portal.distribution.models import DistributionRun
from tests.distribution.test_schedule_views import runs_of, text
from tests.workers import wait_for, worker_process

pytestmark = pytest.mark.usefixtures("stores_group")


class PrivateRedis:
    """A Redis server of this test alone, on a free port, that the test stops and starts."""

    def __init__(self, tmp_path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = tmp_path / "redis.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        with self.log.open("a") as output:
            self.process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        wait_for(self.answers, self.process, self.log, "Redis to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (the Debian package redis-server)")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def status_of(run_id: int) -> str:
    status = db.session.scalar(sa.select(DistributionRun.status).filter_by(id=run_id))
    db.session.rollback()  # end the read so the next poll sees the worker's commits
    return status


def test_a_run_triggered_while_redis_is_down_waits_and_starts_once_it_is_back(
    app, client, login, task_queue, redis_server, database_uri, tmp_path
):
    task_queue.point_at(redis_server.url)
    login("hq")
    redis_server.stop()

    triggered = client.post("/distribution/schedules/1080/run", follow_redirects=True)
    stores = client.get("/stores/")

    assert triggered.status_code == 200 and stores.status_code == 200
    (run,) = runs_of("1080")
    assert run.status == "waiting" and "task queue is unreachable" in run.message
    page = text(triggered)
    assert f"Run {run.id} is waiting" in page and run.message in page

    redis_server.start()
    queue = app.extensions["celery"].conf.task_default_queue
    log = tmp_path / "worker.log"
    with worker_process(redis_server.url, queue, database_uri, tmp_path, log) as worker:
        # What beat's tick does every minute: hand the waiting runs to the workers.
        assert tasks.tick() == 1
        wait_for(lambda: status_of(run.id) == "done", worker, log, "the waiting run")
