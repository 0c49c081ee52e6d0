"""Rules for changing master data: upserts by natural key and deletions as tombstones."""

from typing import Any

import sqlalchemy as sa

from portal.extensions import db
from portal.masterdata.versioning import tombstone


def upsert(model: type, key: tuple[str, ...], rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert or update rows identified by their natural key; returns (inserted, updated)."""
    inserted = updated = 0
    for values in rows:
        where = {field: values[field] for field in key}
        existing = db.session.scalar(sa.select(model).filter_by(**where))
        if existing is None:
            db.session.add(model(**values))
            inserted += 1
            continue
        changed = existing.deleted
        existing.deleted = False
        for field, value in values.items():
            if getattr(existing, field) != value:
                setattr(existing, field, value)
                changed = True
        updated += int(changed)
    db.session.flush()
    return inserted, updated


def delete(model: type, key: tuple[str, ...], keys: list[dict[str, Any]]) -> int:
    """Tombstone the rows with these natural keys; returns how many were live."""
    deleted = 0
    for where in keys:
        existing = db.session.scalar(sa.select(model).filter_by(**{k: where[k] for k in key}))
        if existing is not None and not existing.deleted:
            tombstone(existing)
            deleted += 1
    db.session.flush()
    return deleted
