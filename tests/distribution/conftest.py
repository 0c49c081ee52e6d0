"""Setup shared by the distribution tests: tax master data, a group, stores and schedule 1080."""

import base64
import json
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

import kombu.pools
import pytest
from flask import current_app

from portal.config import broker_transport_options
from portal.core.extensions import db
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun
from portal.distribution.package_files import read_package
from portal.masterdata.tax import ItemTaxGroup, SalesTaxGroup, TaxCode, TaxRate
from tests.factories import GroupFactory, StoreFactory


@pytest.fixture
def tax_data(app_ctx):
    """Tax codes, rates and groups for Texas and Washington stores."""
    db.session.add_all(
        [
            TaxCode(code="TX-STATE", name="Texas state tax"),
            TaxCode(code="WA-STATE", name="Washington state tax"),
            TaxRate(tax_code="TX-STATE", rate=Decimal("6.25"), valid_from=date(2020, 1, 1)),
            TaxRate(tax_code="WA-STATE", rate=Decimal("6.5"), valid_from=date(2020, 1, 1)),
            SalesTaxGroup(code="TX", name="Texas", tax_codes=["TX-STATE"]),
            SalesTaxGroup(code="WA", name="Washington", tax_codes=["WA-STATE"]),
            ItemTaxGroup(code="FOOD", name="Food", tax_codes=["TX-STATE", "WA-STATE"]),
        ]
    )
    db.session.commit()


@pytest.fixture
def stores_group(tax_data):
    """A group holding two Texas stores and one Washington store, targeted by schedule 1080."""
    distribution.ensure_standard_jobs()
    group = GroupFactory(name="Stores")
    for number, tax_group in (("HOUSTON", "TX"), ("DALLAS", "TX"), ("SEATTLE", "WA")):
        StoreFactory(store_number=number, tax_group=tax_group, channel_data_group="Stores")
    distribution.create_schedule(
        {"code": "1080", "name": "Sales tax", "jobs": ["1080"], "groups": ["Stores"]}
    )
    db.session.commit()
    return group


def run_schedule(code: str = "1080", full: bool = False):
    """Request, plan and build a run in this process, as a worker would; returns the run."""
    run = runs.request_run(distribution.get_schedule(code), full)
    db.session.commit()
    return build_run(run.id)


def build_run(run_id: int):
    """Plan and build a requested run here, one session at a time, as workers would."""
    session_ids = runs.plan_run(run_id)
    db.session.commit()
    for session_id in session_ids:
        builds.build_session(session_id)
        db.session.commit()
    run = db.session.get(DistributionRun, run_id)
    db.session.refresh(run)
    return run


class TaskQueue:
    """A broker file of one test: what was queued on it, and a way to make it unreachable."""

    def __init__(self, celery, path):
        self.celery = celery
        self.path = path

    def point_at(self, url: str) -> None:
        """Publish to `url` from now on."""
        # Celery takes its broker connections from kombu's pools, shared by URL: close and forget
        # them all, so the new URL is used and no closed pool is handed out again later.
        kombu.pools.reset()
        self.celery._pool = None
        self.celery.amqp._producer_pool = None
        self.celery.conf.broker_url = url
        self.celery.conf.broker_transport_options = broker_transport_options(url)

    def go_down(self) -> None:
        """Make the broker unreachable, as a stopped Redis would be."""
        self.point_at(f"sqla+sqlite:///{self.path.parent / 'missing' / 'broker.sqlite'}")

    def tasks(self) -> list[tuple[str, list]]:
        """The (task name, arguments) of every queued message, oldest first."""
        if not self.path.exists():
            return []
        with sqlite3.connect(self.path) as conn:
            payloads = [row[0] for row in conn.execute("SELECT payload FROM kombu_message")]
        queued = []
        for payload in payloads:
            message = json.loads(payload)
            args, _, _ = json.loads(base64.b64decode(message["body"]))
            queued.append((message["headers"]["task"], args))
        return queued


@pytest.fixture
def task_queue(app, tmp_path):
    """Send this test's tasks to a broker file of its own, which no worker reads.

    The app's default embedded broker sits in the instance folder a developer's worker consumes;
    tests must not feed it. Publishing needs no worker: the message just waits.
    """
    celery = app.extensions["celery"]
    # Tasks publish through the current Celery app; a test's own client app may have taken over.
    celery.set_current()
    saved = celery.conf.broker_url
    queue = TaskQueue(celery, tmp_path / "broker.sqlite")
    queue.point_at(f"sqla+sqlite:///{queue.path}")
    yield queue
    queue.point_at(saved)


def sessions_by_database(run) -> dict:
    """The run's download sessions keyed by channel database name."""
    from portal.distribution.models import DownloadSession

    sessions = db.session.scalars(
        db.select(DownloadSession).filter_by(run_id=run.id).order_by(DownloadSession.id)
    )
    return {session.channel_database.name: session for session in sessions}


def package_lines(session) -> dict[str, list[dict]]:
    """The table lines of a session's package file."""
    path = Path(current_app.config["PACKAGE_STORE"]) / session.package.path
    return read_package(path)[1]
