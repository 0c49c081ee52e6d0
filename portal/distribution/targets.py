"""Which channel databases a run reaches, and which tables of a job each of them receives."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from portal.core.extensions import db
from portal.distribution.models import DistributionSchedule, SchedulerJob
from portal.distribution.tables import TABLES, Target
from portal.masterdata.jobs import UPLOAD
from portal.setup.models import OFFLINE, ChannelDatabase, OfflineProfile, Register, Store


@dataclass(frozen=True)
class Delivery:
    """One job's tables for one target database."""

    database: ChannelDatabase
    job: SchedulerJob
    tables: tuple[str, ...]


def target_databases(schedule: DistributionSchedule) -> list[ChannelDatabase]:
    """The receiving channel databases of the schedule's groups, by name."""
    group_ids = [group.id for group in schedule.groups]
    if not group_ids:
        return []
    return list(
        db.session.scalars(
            sa.select(ChannelDatabase)
            .where(ChannelDatabase.channel_data_group_id.in_(group_ids), receiving())
            .order_by(ChannelDatabase.name)
            # Planning reads each offline database's register and profile: a query for each of
            # 40,000 registers took longer than the rest of the plan.
            .options(
                selectinload(ChannelDatabase.register).options(
                    joinedload(Register.offline_profile).selectinload(OfflineProfile.scopes),
                    joinedload(Register.store)
                    .joinedload(Store.offline_profile)
                    .selectinload(OfflineProfile.scopes),
                )
            )
        )
    )


def deliveries(
    schedule: DistributionSchedule, only: ChannelDatabase | None = None
) -> list[Delivery]:
    """Every (target, job) pair of a run with a table to send; `only` keeps that target's."""
    planned = []
    databases = target_databases(schedule) if only is None else _if_targeted(schedule, only)
    known: dict = {}
    for database in databases:
        for job in schedule.jobs:
            tables = tables_for(database, job, known)
            if tables:
                planned.append(Delivery(database, job, tables))
    return planned


def _if_targeted(schedule: DistributionSchedule, database: ChannelDatabase) -> list:
    groups = {group.id for group in schedule.groups}
    receives = database.active and (database.kind != OFFLINE or database.activated_at is not None)
    return [database] if receives and database.channel_data_group_id in groups else []


def receiving() -> sa.ColumnElement[bool]:
    """Active databases, and of offline ones only those a register has activated.

    Registers that never activated would otherwise pile up sessions nobody downloads; their
    first activation brings one full package instead.
    """
    return sa.and_(
        ChannelDatabase.active,
        sa.or_(ChannelDatabase.kind != OFFLINE, ChannelDatabase.activated_at.is_not(None)),
    )


def tables_for(
    database: ChannelDatabase, job: SchedulerJob, known: dict | None = None
) -> tuple[str, ...]:
    """The tables of a job that a database receives (an offline one: its profile's scopes).

    `known` keeps each offline profile's tables between calls: a run's thousands of targets
    share a few profiles.
    """
    if job.direction == UPLOAD:
        return ()
    if database.kind != OFFLINE:
        return tuple(t for t in job.tables if t in TABLES)
    return offline_job_tables(offline_tables(database, known), job)


def offline_job_tables(allowed: frozenset[str], job: SchedulerJob) -> tuple[str, ...]:
    """The tables of a job an offline database receives, given its profile's `allowed` tables."""
    if job.direction == UPLOAD or job.exclude_from_offline:
        return ()
    return tuple(t for t in job.tables if t in TABLES and t in allowed)


def offline_tables(database: ChannelDatabase, known: dict | None = None) -> frozenset[str]:
    """The tables an offline database receives: its profile's download scopes, none if paused."""
    profile = database.register.effective_offline_profile if database.register else None
    if known is None:
        return profile_tables(profile)
    key = None if profile is None else profile.id
    if key not in known:
        known[key] = profile_tables(profile)
    return known[key]


def profile_tables(profile: OfflineProfile | None) -> frozenset[str]:
    """The tables an offline profile's download scopes name; none while it is paused."""
    if profile is None or profile.pause_sync:
        return frozenset()
    return frozenset(
        table for scope in profile.scopes if scope.direction != UPLOAD for table in scope.tables
    )


def store_target(store: Store) -> Target:
    """The store settings that scope what the store's databases receive."""
    return Target(
        store_number=store.store_number,
        tax_group=store.tax_group,
        price_group=store.price_group,
        assortment=store.assortment,
    )


def target_of(database: ChannelDatabase) -> Target:
    """The store settings that scope what this database receives."""
    return store_target(database.store)
