"""Figures the database holds, counted when Prometheus scrapes: one grouped count per family.

Each query groups an indexed status or kind column, so a scrape costs a handful of index scans
whatever the history's size; nothing is cached, so several web servers answer alike.
"""

from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app
from kombu.exceptions import ChannelError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from portal.auditor.models import REVIEW_OPEN, Anomaly
from portal.core.extensions import db
from portal.core.metrics import PREFIX
from portal.device_api import fleet
from portal.distribution.models import DataPackage, DistributionRun, DownloadSession
from portal.transactions.models import UploadSession

BROKER_TIMEOUT_S = 2


class DatabaseCollector(Collector):
    """Runs, sessions, packages, devices, received sales, open anomalies and the task queue."""

    def collect(self) -> Iterator:
        """Yield each family, counted now."""
        yield _family(
            "distribution_runs",
            "Distribution runs by status.",
            ["status"],
            sa.select(DistributionRun.status, sa.func.count()).group_by(DistributionRun.status),
        )
        yield _family(
            "download_sessions",
            "Download sessions by status and job.",
            ["status", "job"],
            sa.select(DownloadSession.status, DownloadSession.job_number, sa.func.count()).group_by(
                DownloadSession.status, DownloadSession.job_number
            ),
        )
        yield _family(
            "package_store_bytes",
            "Bytes of the package files retention has not removed yet.",
            [],
            sa.select(sa.func.coalesce(sa.func.sum(DataPackage.size), 0)).where(
                DataPackage.removed_at.is_(None)
            ),
        )
        yield _devices()
        yield _sales_received()
        yield _family(
            "anomalies_open",
            "Anomalies not reviewed yet, by kind.",
            ["kind"],
            sa.select(Anomaly.kind, sa.func.count())
            .where(Anomaly.review_status == REVIEW_OPEN)
            .group_by(Anomaly.kind),
        )
        yield from _queue_length()


def _family(name: str, documentation: str, labels: list[str], stmt: sa.Select):
    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=labels)
    for *values, count in db.session.execute(stmt):
        family.add_metric([str(value) for value in values], count or 0)
    return family


def _devices() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        f"{PREFIX}_devices",
        "Active channel databases by state (online, offline, behind, never_activated) and kind "
        "(offline: a register's, channel: a store's).",
        labels=["state", "kind"],
    )
    for kind, counts in fleet.totals().items():
        for state in fleet.STATES:
            family.add_metric([state, kind], getattr(counts, state))
    return family


def _sales_received() -> CounterMetricFamily:
    family = CounterMetricFamily(
        f"{PREFIX}_sales_received",
        "Sales received from devices, by what HQ answered: accepted, duplicate, rejected, "
        "conflict.",
        labels=["status"],
    )
    totals = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(UploadSession.accepted), 0),
            sa.func.coalesce(sa.func.sum(UploadSession.duplicates), 0),
            sa.func.coalesce(sa.func.sum(UploadSession.rejected), 0),
            sa.func.coalesce(sa.func.sum(UploadSession.conflicts), 0),
        )
    ).one()
    for status, count in zip(
        ("accepted", "duplicate", "rejected", "conflict"), totals, strict=True
    ):
        family.add_metric([status], count)
    return family


def _queue_length() -> Iterator[GaugeMetricFamily]:
    celery = current_app.extensions["celery"]
    queue = celery.conf.task_default_queue
    family = GaugeMetricFamily(
        f"{PREFIX}_celery_queue_length",
        "Tasks waiting on the broker for a worker, by queue; absent when the broker is down.",
        labels=["queue"],
    )
    up = GaugeMetricFamily(f"{PREFIX}_broker_up", "1 when the broker answered this scrape.")
    reachable = False
    try:
        with celery.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
            reachable = True
            try:
                waiting = connection.default_channel.queue_declare(queue=queue, passive=True)
                family.add_metric([queue], waiting.message_count)
            except ChannelError:
                # Redis knows a queue only once a worker or a task declared it: none waits.
                family.add_metric([queue], 0)
    except Exception:  # noqa: BLE001  (a broker outage: no figure, and broker_up says so)
        current_app.logger.warning("Metrics: the broker did not answer", exc_info=True)
    up.add_metric([], 1 if reachable else 0)
    yield family
    yield up
