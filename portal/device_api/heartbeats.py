"""Heartbeats: what a device says about itself, kept as its latest state and as a history."""

import functools
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.sql import commit_unflushed, is_postgresql
from portal.device_api import credentials
from portal.device_api.models import ONLINE, DeviceStatus, Heartbeat
from portal.distribution import upload_requests
from portal.distribution.models import DownloadSession
from portal.setup.models import ChannelDatabase

# What a heartbeat says, kept alike in the history and as the latest status.
_REPORTED = (
    "mode",
    "offline_since",
    "mode_since",
    "pending_uploads",
    "last_applied_session_id",
    "app_version",
    "database_bytes",
    "free_disk_bytes",
    "last_error",
    "sync_paused",
)


def record_heartbeat(database_id: int, report: dict) -> tuple[datetime, bool]:
    """Keep a heartbeat in the history and as the database's latest device status; its time,
    and whether an upload request (P-0001) of the database is open.

    One statement on PostgreSQL, whatever came before: heartbeats are most of what a chain's
    devices send, and most find no upload request.
    """
    last_applied = report.get("last_applied_package")
    if last_applied is not None and not _is_session_of(database_id, last_applied):
        name = db.session.get(ChannelDatabase, database_id).name
        raise ValidationFailed(
            f"Package {last_applied} is not a package of '{name}'.",
            {"last_applied_package": "Not one of this database's packages."},
        )
    received_at = utcnow()
    values = {"channel_database_id": database_id, **reported_values(report, received_at)}
    statements = _statements(is_postgresql())
    # Plain statements on the session's connection: the ORM's execution path has nothing to
    # add to them but about 50 µs of CPU each.
    connection = db.session.connection()
    for statement in statements[:-1]:
        connection.execute(statement, values)
    return received_at, connection.scalar(statements[-1], values)


def reported_values(report: dict, received_at: datetime) -> dict:
    """The values a heartbeat statement binds, from a report as `HeartbeatSchema` loads it."""
    return {
        "received_at": received_at,
        "mode": report["mode"],
        **_mode_times(report),
        "pending_uploads": report["pending_uploads"],
        "last_applied_session_id": report.get("last_applied_package"),
        "app_version": report.get("app_version") or "",
        "database_bytes": report.get("database_bytes"),
        "free_disk_bytes": report.get("free_disk_bytes"),
        "last_error": report.get("last_error") or "",
        "sync_paused": bool(report.get("sync_paused")),
    }


@functools.cache
def _statements(postgresql: bool) -> tuple[sa.Executable, ...]:
    """The heartbeat's writes and its question, built once: SQLAlchemy then only binds values.

    On PostgreSQL the writes are parts of the question, so a heartbeat is one round trip.
    """
    if postgresql:
        reporter = sa.select(
            sa.bindparam("channel_database_id", type_=sa.Integer).label("database_id")
        ).cte("reporter")
        return (reporting_statement(reporter),)
    values = {name: sa.bindparam(name) for name in ("channel_database_id", *_REPORTED)}
    history = sa.insert(Heartbeat.__table__).values(
        received_at=sa.bindparam("received_at"), **values
    )
    status = sqlite_insert(DeviceStatus.__table__).values(
        reported_at=sa.bindparam("received_at"), **values
    )
    # An upsert: two first heartbeats at once both land, the later one's values kept.
    status = status.on_conflict_do_update(
        index_elements=["channel_database_id"],
        set_={name: status.excluded[name] for name in ("reported_at", *_REPORTED)},
    )
    asked = sa.select(upload_requests.is_open(sa.bindparam("channel_database_id")))
    return history, status, asked


@functools.cache
def reporting_by_token() -> sa.Select:
    """The heartbeat of the device whose token hash is bound (`token_hash`), in one PostgreSQL
    statement: the token's id and last use, the database's id, and whether an upload request
    of it is open. No row, and nothing written, for a token that does not authenticate or a
    last applied package that is not one of the database's: the route then says which."""
    last_applied = sa.bindparam("last_applied_session_id", type_=sa.Integer)
    reporter = credentials.TOKEN_LOOKUP.where(
        sa.or_(
            last_applied.is_(None),
            sa.exists().where(
                DownloadSession.id == last_applied,
                DownloadSession.channel_database_id == ChannelDatabase.id,
            ),
        )
    ).cte("reporter")
    return reporting_statement(
        reporter, reporter.c.token_id, reporter.c.last_used_at, reporter.c.database_id
    )


def reporting_statement(reporter: sa.CTE, *answered: sa.ColumnElement) -> sa.Select:
    """One PostgreSQL statement that keeps the heartbeat of the database `reporter` names (its
    `database_id` column; no row, nothing written) and answers whether an upload request of it
    is open, after the `answered` columns of `reporter`.

    Nor does its commit wait for the disk: a commit waiting behind others' writes made a poll's
    slowest times, and the next heartbeat says it all again.
    """
    # Typed from the columns, as the values come through a SELECT that has no columns to say so.
    table = Heartbeat.__table__
    values = [sa.bindparam(name, type_=table.c[name].type) for name in ("received_at", *_REPORTED)]
    source = sa.select(reporter.c.database_id, *values)
    history = sa.insert(table).from_select(
        ["channel_database_id", "received_at", *_REPORTED], source
    )
    status = postgresql_insert(DeviceStatus.__table__).from_select(
        ["channel_database_id", "reported_at", *_REPORTED], source
    )
    # An upsert: two first heartbeats at once both land, the later one's values kept.
    status = status.on_conflict_do_update(
        index_elements=["channel_database_id"],
        set_={name: status.excluded[name] for name in ("reported_at", *_REPORTED)},
    )
    asked = sa.select(
        *answered,
        upload_requests.is_open(reporter.c.database_id).label("upload_open"),
        commit_unflushed(),
    ).select_from(reporter)
    return asked.add_cte(reporter, history.cte(), status.cte())


def _mode_times(report: dict) -> dict:
    """Since when the device is in its mode; an offline one's `offline_since` is the same moment.

    A device back online may still send when it went offline; that is over now. Devices that
    send only `offline_since` (older agents) have it taken as their offline mode's start.
    """
    mode_since = _utc(report.get("mode_since"))
    if report["mode"] == ONLINE:
        return {"offline_since": None, "mode_since": mode_since}
    offline_since = _utc(report.get("offline_since")) or mode_since
    return {"offline_since": offline_since, "mode_since": mode_since or offline_since}


def _is_session_of(database_id: int, session_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count()).where(
                DownloadSession.id == session_id,
                DownloadSession.channel_database_id == database_id,
            )
        )
    )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)
