"""The device states HQ shows: the rules at their boundaries, counts per store, fleet samples."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api import fleet
from portal.device_api.models import FleetSample, Heartbeat
from portal.device_api.tasks import sample_fleet
from portal.distribution import parameters
from portal.setup.models import ChannelDatabase
from portal.setup.registers import services as registers
from portal.transactions.models import UploadSession
from tests.device_api import fleet_setup as setup
from tests.factories import StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def offline_database(store: str | None = None, activated: bool = True) -> ChannelDatabase:
    """An active offline database, activated an hour before NOW unless told not."""
    return setup.offline_database(store, NOW - timedelta(hours=1) if activated else None)


def heartbeat(database: ChannelDatabase, ago: timedelta, mode: str = "online", **values) -> None:
    """The device's latest report, `ago` before NOW."""
    setup.heartbeat(database, NOW - ago, mode, **values)


def pending(database: ChannelDatabase, ago: timedelta, status: str = "available", job="1080"):
    """A download session of the database requested `ago` before NOW, in `status`."""
    return setup.pending(database, NOW - ago, status, job)


def state_of(database: ChannelDatabase, now: datetime = NOW) -> str | None:
    """The database's state as the fleet's SQL decides it."""
    states = fleet.classified(now, database.id)
    return db.session.scalar(sa.select(states.c.state))


def test_a_database_no_device_activated_is_never_activated_whatever_it_reports():
    database = offline_database(activated=False)
    assert state_of(database) == fleet.NEVER_ACTIVATED
    heartbeat(database, timedelta(minutes=1))
    pending(database, timedelta(days=1))
    assert state_of(database) == fleet.NEVER_ACTIVATED


def test_silence_up_to_the_limit_is_online_and_past_it_offline():
    database = offline_database()
    heartbeat(database, timedelta(minutes=15))
    assert state_of(database) == fleet.ONLINE_STATE
    heartbeat(database, timedelta(minutes=15) + SECOND)
    assert state_of(database) == fleet.OFFLINE_STATE


def test_without_any_heartbeat_silence_counts_from_the_activation():
    database = offline_database()
    database.activated_at = NOW - timedelta(minutes=15)
    db.session.commit()
    assert state_of(database) == fleet.ONLINE_STATE
    database.activated_at = NOW - timedelta(minutes=15) - SECOND
    db.session.commit()
    assert state_of(database) == fleet.OFFLINE_STATE


def test_a_device_reporting_offline_mode_is_offline_however_recent_the_report():
    database = offline_database()
    heartbeat(
        database, timedelta(seconds=5), mode="offline", offline_since=NOW - timedelta(hours=2)
    )
    assert state_of(database) == fleet.OFFLINE_STATE


def test_a_package_pending_up_to_the_limit_is_online_and_past_it_behind():
    database = offline_database()
    heartbeat(database, timedelta(minutes=1))
    session = pending(database, timedelta(minutes=60))
    assert state_of(database) == fleet.ONLINE_STATE
    session.requested_at = NOW - timedelta(minutes=60) - SECOND
    db.session.commit()
    assert state_of(database) == fleet.BEHIND


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("available", fleet.BEHIND),
        ("downloaded", fleet.BEHIND),
        ("apply_failed", fleet.BEHIND),
        ("requested", fleet.ONLINE_STATE),
        ("applied", fleet.ONLINE_STATE),
        ("no_data", fleet.ONLINE_STATE),
        ("canceled", fleet.ONLINE_STATE),
    ],
)
def test_only_packages_offered_and_not_applied_hold_a_device_behind(status, state):
    database = offline_database()
    heartbeat(database, timedelta(minutes=1))
    pending(database, timedelta(days=2), status=status)
    assert state_of(database) == state


def test_offline_wins_over_behind():
    database = offline_database()
    heartbeat(database, timedelta(hours=1))
    pending(database, timedelta(days=2))
    assert state_of(database) == fleet.OFFLINE_STATE


def test_the_limits_come_from_the_settings(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEVICE_SILENT_MINUTES", 5)
    monkeypatch.setitem(app.config, "DEVICE_BEHIND_MINUTES", 10)
    silent, late = offline_database(), offline_database()
    heartbeat(silent, timedelta(minutes=6))
    heartbeat(late, timedelta(minutes=1))
    pending(late, timedelta(minutes=11))
    assert (state_of(silent), state_of(late)) == (fleet.OFFLINE_STATE, fleet.BEHIND)


def test_inactive_databases_are_not_counted():
    database = offline_database()
    registers.set_support_offline(database.register, False)
    db.session.commit()
    assert state_of(database) is None
    assert fleet.totals(NOW)["offline"].total == 0


def test_totals_count_registers_and_store_databases_apart():
    store = StoreFactory().store_number
    online, silent, never = (
        offline_database(store),
        offline_database(store),
        offline_database(store, activated=False),
    )
    heartbeat(online, timedelta(minutes=1))
    heartbeat(silent, timedelta(hours=1))

    totals = fleet.totals(NOW)

    assert totals["offline"] == fleet.Counts(online=1, offline=1, never_activated=1)
    assert totals["channel"] == fleet.Counts(never_activated=1)  # the store's own database
    assert never.activated_at is None


def test_stores_come_worst_first_with_their_counts():
    calm, busy, worst, new = (
        StoreFactory(store_number=n, name=f"Store {n}").store_number for n in "ABCD"
    )
    heartbeat(offline_database(calm), timedelta(minutes=1))
    late = offline_database(busy)
    heartbeat(late, timedelta(minutes=1))
    pending(late, timedelta(hours=3))
    heartbeat(offline_database(busy), timedelta(minutes=1))
    for _ in range(2):
        heartbeat(offline_database(worst), timedelta(hours=2))
    offline_database(new, activated=False)

    stores = db.session.scalars(fleet.stores_query(now=NOW)).all()
    fleets = fleet.store_fleets([store.id for store in stores], NOW)

    assert [store.store_number for store in stores] == ["C", "B", "D", "A"]
    assert [fleets[store.id].registers for store in stores] == [
        fleet.Counts(offline=2),
        fleet.Counts(online=1, behind=1),
        fleet.Counts(never_activated=1),
        fleet.Counts(online=1),
    ]
    assert {fleets[store.id].store_database for store in stores} == {fleet.NEVER_ACTIVATED}
    assert [s.store_number for s in db.session.scalars(fleet.stores_query("store b", NOW))] == ["B"]


def test_the_sampling_task_records_the_registers_per_state_now():
    online, silent, late = (setup.offline_database(None, setup.minutes_ago(90)) for _ in "abc")
    setup.heartbeat(online, setup.minutes_ago(1))
    setup.heartbeat(silent, setup.minutes_ago(60 * 24))
    setup.heartbeat(late, setup.minutes_ago(1))
    setup.pending(late, setup.minutes_ago(120))
    setup.offline_database()

    sample_id = sample_fleet()

    db.session.expire_all()
    sample = db.session.get(FleetSample, sample_id)
    assert (sample.online, sample.offline, sample.behind, sample.never_activated) == (1, 1, 1, 1)
    assert utcnow() - sample.taken_at < timedelta(minutes=1)


def test_the_sampling_task_is_on_beat_every_five_minutes(app):
    beat = app.config["CELERY"]["beat_schedule"]["fleet-sample"]
    assert beat == {"task": "device_api.sample_fleet", "schedule": 300.0}
    assert "device_api.sample_fleet" in app.extensions["celery"].tasks


def test_samples_since_a_moment_oldest_first():
    for minutes in (20, 10, 0, 30):
        fleet.take_sample(NOW - timedelta(minutes=minutes))
    db.session.commit()
    taken = [sample.taken_at for sample in fleet.samples_since(NOW - timedelta(minutes=20))]
    assert taken == [NOW - timedelta(minutes=m) for m in (20, 10, 0)]


def test_history_older_than_the_chart_shows_is_pruned():
    database = offline_database()
    for days in (40, 36, 34, 0):
        fleet.take_sample(NOW - timedelta(days=days))
        db.session.add(
            Heartbeat(
                channel_database_id=database.id,
                received_at=NOW - timedelta(days=days),
                mode="online",
            )
        )
    db.session.commit()

    removed = fleet.prune_history(NOW)
    db.session.commit()

    assert removed == 4
    kept = db.session.scalars(sa.select(FleetSample.taken_at).order_by(FleetSample.taken_at))
    assert list(kept) == [NOW - timedelta(days=34), NOW]
    heartbeats = db.session.scalars(sa.select(Heartbeat.received_at).order_by(Heartbeat.id))
    assert list(heartbeats) == [NOW - timedelta(days=34), NOW]

    database = offline_database()
    applied = pending(database, timedelta(hours=5), status="applied", job="1040")
    pending(database, timedelta(hours=2))
    pending(database, timedelta(minutes=30), status="apply_failed")
    heartbeat(database, timedelta(minutes=2), pending_uploads=4, app_version="agent 1.2")
    for minutes, mode in ((50, "offline"), (40, "online"), (2, "online")):
        db.session.add(
            Heartbeat(
                channel_database_id=database.id,
                received_at=NOW - timedelta(minutes=minutes),
                mode=mode,
            )
        )
    db.session.add(
        UploadSession(
            channel_database_id=database.id,
            request_sha256="0" * 64,
            status="applied",
            received_at=NOW - timedelta(minutes=3),
            accepted=3,
        )
    )
    db.session.commit()

    device = fleet.overview(database, NOW)

    assert device.state == fleet.BEHIND
    assert device.last_applied.id == applied.id
    assert (device.pending, device.pending_age) == (2, timedelta(hours=2))
    assert device.silent_for == timedelta(minutes=2)
    assert device.online_since == NOW - timedelta(minutes=40)
    assert device.last_upload_at == NOW - timedelta(minutes=3)
    assert device.status.pending_uploads == 4


def test_overview_of_a_database_never_heard_from():
    device = fleet.overview(offline_database(activated=False), NOW)
    assert (device.state, device.status, device.last_applied, device.pending) == (
        fleet.NEVER_ACTIVATED,
        None,
        None,
        0,
    )
    assert (device.online_since, device.last_upload_at, device.pending_age) == (None, None, None)


def test_classifying_costs_the_same_queries_for_ten_databases_as_for_two(app):
    store = StoreFactory().store_number
    for _ in range(2):
        heartbeat(offline_database(store), timedelta(minutes=1))
    few = _queries(lambda: _dashboard_figures())
    for _ in range(8):
        pending(offline_database(store), timedelta(hours=3))
    many = _queries(lambda: _dashboard_figures())
    assert many == few <= 4


def _dashboard_figures():
    parameters.forget()  # as a fresh request: its thresholds are read once
    stores = db.session.scalars(fleet.stores_query(now=NOW)).all()
    fleet.store_fleets([store.id for store in stores], NOW)
    fleet.totals(NOW)


def _queries(work) -> int:
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)
