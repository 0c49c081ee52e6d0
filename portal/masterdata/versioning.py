"""Change versions for distributable rows, safe against writers that commit out of order.

Every transaction that writes master data takes the next value of one counter row and stamps it
on each row it inserts, updates or deletes (deletes become tombstones). The counter's row lock is
held until commit, so versions commit in order: once a build reads the committed counter value W,
every row with a version up to W is committed and visible, and no later commit can bring a version
up to W. Incremental packages carry the versions (base, W] and cannot skip a change. The rows
that set prices also keep every version (`history`), appended here for the ORM's writes.
"""

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.core.extensions import db
from portal.core.models import UTCDateTime, utcnow
from portal.masterdata import history

_VERSION_KEY = "change_version"


class ChangeCounter(db.Model):
    """The single row holding the last change version handed out."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Distributable:
    """Columns every distributable row carries: its change version and a tombstone flag."""

    row_version: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    deleted: Mapped[bool] = mapped_column(default=False)
    changed_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def transaction_version(session: Session) -> int:
    """The change version of the session's current transaction, taken once per transaction."""
    version = session.info.get(_VERSION_KEY)
    if version is None:
        bump = (
            sa.update(ChangeCounter)
            .where(ChangeCounter.id == 1)
            .values(value=ChangeCounter.value + 1)
            .returning(ChangeCounter.value)
        )
        version = session.execute(bump).scalar_one()
        session.info[_VERSION_KEY] = version
    return version


def committed_version(connection: sa.Connection) -> int:
    """The highest change version whose rows are all committed (read in the caller's snapshot)."""
    value = connection.scalar(sa.select(ChangeCounter.value).where(ChangeCounter.id == 1))
    return value or 0


def tombstone(obj: Distributable) -> None:
    """Delete a distributable row the only allowed way: keep it as a tombstone."""
    obj.deleted = True


@event.listens_for(Session, "before_flush")
def _stamp_versions(session: Session, flush_context, instances) -> None:
    changed = [
        obj
        for obj in (*session.new, *session.dirty)
        if isinstance(obj, Distributable) and session.is_modified(obj, include_collections=False)
    ]
    for obj in session.deleted:
        if isinstance(obj, Distributable):
            raise RuntimeError(
                f"{type(obj).__name__} rows are never deleted: use masterdata tombstone() so "
                "incremental packages can carry the deletion."
            )
    if changed:
        version = transaction_version(session)
        for obj in changed:
            obj.row_version = version
        history.record_changes(session, changed, version)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_version(session: Session, *args) -> None:
    session.info.pop(_VERSION_KEY, None)
