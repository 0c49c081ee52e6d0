"""What HQ knows of its devices: each channel database's state, counts per store, samples.

Every active channel database is in exactly one state, decided in this order:

- **never activated**: no device has activated the database (no `activated_at`);
- **offline**: its last heartbeat reported offline mode, or it has been silent (no heartbeat,
  counted from activation when it never sent one) for more than `device_silent_minutes` (a
  scheduler parameter);
- **behind**: online, but a package has been pending (available, downloaded or apply failed)
  for more than `device_behind_minutes` since its session was requested;
- **online**: the rest.

The dashboard counts registers (offline databases); a store's own channel database is shown
next to them with the same rules. States are computed in SQL so 5,000 databases cost one query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api.models import OFFLINE_MODE, ONLINE, DeviceStatus, FleetSample, Heartbeat
from portal.distribution import parameters
from portal.distribution.models import (
    SESSION_APPLIED,
    SESSION_APPLY_FAILED,
    SESSION_AVAILABLE,
    SESSION_DOWNLOADED,
    DownloadSession,
)
from portal.setup.models import CHANNEL, OFFLINE, ChannelDatabase, Store
from portal.setup.stores import services as stores
from portal.transactions.models import UploadSession

NEVER_ACTIVATED = "never_activated"
OFFLINE_STATE = "offline"
BEHIND = "behind"
ONLINE_STATE = "online"
# Worst first: the order of the dashboard's figures and of the chart's legend.
STATES = (OFFLINE_STATE, BEHIND, NEVER_ACTIVATED, ONLINE_STATE)
LABELS = {
    OFFLINE_STATE: "Offline",
    BEHIND: "Behind",
    NEVER_ACTIVATED: "Never activated",
    ONLINE_STATE: "Online",
}
# Sessions whose package the device has been offered but has not applied yet.
PENDING_STATUSES = (SESSION_AVAILABLE, SESSION_DOWNLOADED, SESSION_APPLY_FAILED)


@dataclass
class Counts:
    """How many databases are in each state."""

    online: int = 0
    offline: int = 0
    behind: int = 0
    never_activated: int = 0

    @property
    def total(self) -> int:
        """Every database counted."""
        return self.online + self.offline + self.behind + self.never_activated

    @property
    def attention(self) -> int:
        """Offline or behind: what the dashboard sorts stores by."""
        return self.offline + self.behind

    def add(self, state: str, count: int) -> None:
        """Count `count` more databases in `state`."""
        setattr(self, state, getattr(self, state) + count)


@dataclass
class StoreFleet:
    """A store's registers by state, and the state of its own channel database."""

    registers: Counts = field(default_factory=Counts)
    store_database: str | None = None


@dataclass(frozen=True)
class DeviceOverview:
    """What a database's device last reported and how far behind it is, for its pages."""

    database: ChannelDatabase
    state: str | None  # None for an inactive database: it is not counted anywhere
    status: DeviceStatus | None
    last_applied: DownloadSession | None
    pending: int
    pending_since: datetime | None
    last_upload: UploadSession | None
    online_since: datetime | None
    now: datetime

    @property
    def pending_age(self) -> timedelta | None:
        """How long the oldest pending package has waited."""
        return self.now - self.pending_since if self.pending_since else None

    @property
    def silent_for(self) -> timedelta | None:
        """How long since the last heartbeat."""
        reported = self.status.reported_at if self.status else None
        return self.now - reported if reported else None

    @property
    def last_upload_at(self) -> datetime | None:
        """When the device last uploaded transactions."""
        if self.last_upload is not None:
            return self.last_upload.received_at
        return self.status.last_upload_at if self.status else None


def thresholds() -> tuple[timedelta, timedelta]:
    """How long a device may stay silent, and how long a package may wait: the parameters."""
    return (
        timedelta(minutes=parameters.current("device_silent_minutes")),
        timedelta(minutes=parameters.current("device_behind_minutes")),
    )


def classified(now: datetime | None = None, database_id: int | None = None) -> sa.Subquery:
    """Active channel databases with their state: columns id, store_id, kind, state."""
    now = now or utcnow()
    silent, behind = thresholds()
    pending = _pending(database_id)
    last_contact = sa.func.coalesce(DeviceStatus.reported_at, ChannelDatabase.activated_at)
    state = sa.case(
        (ChannelDatabase.activated_at.is_(None), NEVER_ACTIVATED),
        (sa.or_(DeviceStatus.mode == OFFLINE_MODE, last_contact < now - silent), OFFLINE_STATE),
        (pending.c.oldest < now - behind, BEHIND),
        else_=ONLINE_STATE,
    )
    stmt = (
        sa.select(
            ChannelDatabase.id,
            ChannelDatabase.store_id,
            ChannelDatabase.kind,
            state.label("state"),
        )
        .outerjoin(DeviceStatus, DeviceStatus.channel_database_id == ChannelDatabase.id)
        .outerjoin(pending, pending.c.database_id == ChannelDatabase.id)
        .where(ChannelDatabase.active)
    )
    if database_id is not None:
        stmt = stmt.where(ChannelDatabase.id == database_id)
    return stmt.subquery("classified")


def totals(now: datetime | None = None) -> dict[str, Counts]:
    """Counts per state over the whole fleet, by kind: `offline` (registers) and `channel`."""
    states = classified(now)
    rows = db.session.execute(
        sa.select(states.c.kind, states.c.state, sa.func.count()).group_by(
            states.c.kind, states.c.state
        )
    )
    found = {OFFLINE: Counts(), CHANNEL: Counts()}
    for kind, state, count in rows:
        found[kind].add(state, count)
    return found


def stores_query(q: str | None = None, now: datetime | None = None) -> sa.Select:
    """Stores matching a search, worst first: most registers offline or behind, then offline."""
    states = classified(now)
    registers = states.c.kind == OFFLINE
    per_store = (
        sa.select(
            states.c.store_id,
            _count(registers & states.c.state.in_((OFFLINE_STATE, BEHIND))).label("attention"),
            _count(registers & (states.c.state == OFFLINE_STATE)).label("offline"),
            _count(registers & (states.c.state == NEVER_ACTIVATED)).label("never"),
        )
        .group_by(states.c.store_id)
        .subquery()
    )
    return (
        stores.stores_query(q)
        .order_by(None)
        .outerjoin(per_store, per_store.c.store_id == Store.id)
        .order_by(
            sa.func.coalesce(per_store.c.attention, 0).desc(),
            sa.func.coalesce(per_store.c.offline, 0).desc(),
            sa.func.coalesce(per_store.c.never, 0).desc(),
            Store.store_number,
        )
    )


def store_fleets(store_ids: list[int], now: datetime | None = None) -> dict[int, StoreFleet]:
    """The registers by state and the store database's state of each of these stores."""
    found = {store_id: StoreFleet() for store_id in store_ids}
    if not store_ids:
        return found
    states = classified(now)
    rows = db.session.execute(
        sa.select(states.c.store_id, states.c.kind, states.c.state, sa.func.count())
        .where(states.c.store_id.in_(store_ids))
        .group_by(states.c.store_id, states.c.kind, states.c.state)
    )
    for store_id, kind, state, count in rows:
        if kind == OFFLINE:
            found[store_id].registers.add(state, count)
        else:
            found[store_id].store_database = state
    return found


def take_sample(now: datetime | None = None) -> FleetSample:
    """Record how many registers are in each state now, for the chart over time."""
    now = now or utcnow()
    registers = totals(now)[OFFLINE]
    sample = FleetSample(
        taken_at=now,
        online=registers.online,
        offline=registers.offline,
        behind=registers.behind,
        never_activated=registers.never_activated,
    )
    db.session.add(sample)
    db.session.flush()
    return sample


# The chart looks 30 days back at most, and each device's latest report stays on its status.
HISTORY_DAYS = 35


def prune_history(now: datetime | None = None) -> int:
    """Remove heartbeats and samples older than HISTORY_DAYS; how many went."""
    cutoff = (now or utcnow()) - timedelta(days=HISTORY_DAYS)
    heartbeats = sa.delete(Heartbeat).where(Heartbeat.received_at < cutoff)
    samples = sa.delete(FleetSample).where(FleetSample.taken_at < cutoff)
    return db.session.execute(heartbeats).rowcount + db.session.execute(samples).rowcount


def samples_since(since: datetime) -> list[FleetSample]:
    """The samples taken since a moment, oldest first."""
    stmt = sa.select(FleetSample).where(FleetSample.taken_at >= since)
    return list(db.session.scalars(stmt.order_by(FleetSample.taken_at)))


def overview(database: ChannelDatabase, now: datetime | None = None) -> DeviceOverview:
    """A database's device state, last heartbeat, packages applied and pending, last upload."""
    now = now or utcnow()
    states = classified(now, database.id)
    state = db.session.scalar(sa.select(states.c.state)) if database.active else None
    pending = _pending(database.id)
    row = db.session.execute(sa.select(pending.c.count, pending.c.oldest)).first()
    count, oldest = row if row is not None else (0, None)
    sessions = sa.select(DownloadSession).where(
        DownloadSession.channel_database_id == database.id,
        DownloadSession.status == SESSION_APPLIED,
    )
    uploads = sa.select(UploadSession).where(UploadSession.channel_database_id == database.id)
    status = db.session.get(DeviceStatus, database.id)
    return DeviceOverview(
        database=database,
        state=state,
        status=status,
        last_applied=db.session.scalar(sessions.order_by(DownloadSession.id.desc()).limit(1)),
        pending=count,
        pending_since=oldest,
        last_upload=db.session.scalar(uploads.order_by(UploadSession.id.desc()).limit(1)),
        online_since=_online_since(status),
        now=now,
    )


def _pending(database_id: int | None = None) -> sa.Subquery:
    stmt = (
        sa.select(
            DownloadSession.channel_database_id.label("database_id"),
            sa.func.count().label("count"),
            sa.func.min(DownloadSession.requested_at).label("oldest"),
        )
        .where(DownloadSession.status.in_(PENDING_STATUSES))
        .group_by(DownloadSession.channel_database_id)
    )
    if database_id is not None:
        stmt = stmt.where(DownloadSession.channel_database_id == database_id)
    return stmt.subquery("pending")


def _online_since(status: DeviceStatus | None) -> datetime | None:
    """The first heartbeat in online mode after the last one in offline mode."""
    if status is None or status.mode != ONLINE:
        return None
    mine = Heartbeat.channel_database_id == status.channel_database_id
    last_offline = (
        sa.select(sa.func.max(Heartbeat.id))
        .where(mine, Heartbeat.mode == OFFLINE_MODE)
        .scalar_subquery()
    )
    return db.session.scalar(
        sa.select(Heartbeat.received_at)
        .where(mine, Heartbeat.id > sa.func.coalesce(last_offline, 0))
        .order_by(Heartbeat.id)
        .limit(1)
    )


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((condition, 1), else_=0))
