"""Rules for changing master data: validated bulk upserts by natural key, deletions as tombstones.

Bulk changes (the API, CSV imports) are all or nothing and leave one audit entry each, with their
counts, not one per row; see `portal.masterdata.bulk`. Single rows (the HTML forms) go through the
same checks and are audited with their before and after values.
"""

from typing import Any

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import Conflict, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.search import search
from portal.masterdata.bulk import QUERY_CHUNK, Batch, Outcome, api_key, api_row
from portal.masterdata.dependents import in_use
from portal.masterdata.entities import Entity, get_entity
from portal.masterdata.fields import json_value
from portal.masterdata.versioning import tombstone

# The most rows one API request may upsert or delete; larger loads go in several requests.
MAX_ROWS = 5000


def upsert(model: type, key: tuple[str, ...], rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert or update trusted rows by natural key, unchecked; returns (inserted, updated)."""
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


def _one_row(position: int) -> str:
    # A form holds one row: its errors name just the field, as the form's inputs are named.
    return ""


def _limit(items: list, field: str) -> None:
    if not items:
        raise ValidationFailed(f"Send at least one entry in '{field}'.", {field: "Empty."})
    if len(items) > MAX_ROWS:
        message = f"At most {MAX_ROWS} per request."
        raise ValidationFailed(f"Too many entries in '{field}': {message}", {field: message})


def bulk_upsert(entity_name: str, rows: list[dict[str, Any]]) -> Outcome:
    """Insert or update up to MAX_ROWS rows of an entity by natural key, all or nothing."""
    entity = get_entity(entity_name)
    _limit(rows, "rows")
    batch = Batch(entity, api_row)
    for start in range(0, len(rows), QUERY_CHUNK):
        batch.upsert(enumerate(rows[start : start + QUERY_CHUNK], start))
    return batch.finish("bulk_upsert")


def bulk_delete(entity_name: str, keys: list[Any]) -> Outcome:
    """Tombstone up to MAX_ROWS rows by natural key; a single-column key may be given bare."""
    entity = get_entity(entity_name)
    _limit(keys, "keys")
    if len(entity.key) == 1:
        keys = [key if isinstance(key, dict) else {entity.key[0]: key} for key in keys]
    batch = Batch(entity, api_key)
    for start in range(0, len(keys), QUERY_CHUNK):
        batch.delete(enumerate(keys[start : start + QUERY_CHUNK], start))
    return batch.finish("bulk_delete")


def get_row(entity_name: str, row_id: int) -> Any:
    """A row of an entity by id (tombstones included), or NotFound."""
    entity = get_entity(entity_name)
    row = db.session.get(entity.model, row_id)
    if row is None:
        raise NotFound(f"There is no {entity.noun} with id {row_id}.")
    return row


def create_row(entity_name: str, values: dict[str, Any]) -> Any:
    """Create one row (or revive its tombstone); a live row with the same key is refused."""
    entity = get_entity(entity_name)
    batch = Batch(entity, _one_row)
    batch.upsert([(0, values)], create_only=True)
    batch.finish(None)
    key = batch.first_key
    row = db.session.scalar(
        sa.select(entity.model).filter_by(**dict(zip(entity.key, key, strict=True)))
    )
    audit.record("create", entity.name, entity.key_text(key)[:100], after=snapshot(entity, row))
    return row


def update_row(entity_name: str, row_id: int, values: dict[str, Any]) -> Any:
    """Change one row's fields (its natural key stays); saving a tombstone revives it."""
    entity = get_entity(entity_name)
    row = get_row(entity_name, row_id)
    before = snapshot(entity, row)
    key = {name: getattr(row, name) for name in entity.key}
    batch = Batch(entity, _one_row)
    batch.upsert([(0, {**values, **key})])
    batch.finish(None)
    subject = entity.key_text(entity.key_of(key))[:100]
    audit.record("update", entity.name, subject, before, snapshot(entity, row))
    return row


def delete_row(entity_name: str, row_id: int) -> Any:
    """Tombstone one row, so the next incremental packages carry its deletion."""
    entity = get_entity(entity_name)
    row = get_row(entity_name, row_id)
    if not row.deleted:
        if reason := in_use(entity, [row]).get(row.id):
            subject = entity.key_text(entity.row_key(row))
            raise Conflict(f"{entity.noun.capitalize()} '{subject}' is not deleted. {reason}")
        tombstone(row)
        db.session.flush()
        subject = entity.key_text(entity.row_key(row))[:100]
        audit.record("delete", entity.name, subject, before=snapshot(entity, row))
    return row


def rows_query(entity: Entity, q: str | None = None, include_deleted: bool = False) -> sa.Select:
    """An entity's rows by natural key, live ones only unless asked, optionally searched.

    `q` matches anywhere in a search column, in any case, as typed: `%` and `_` are no
    wildcards. PostgreSQL answers it from the trigram indexes of the large tables.
    """
    model = entity.model
    stmt = sa.select(model).order_by(*(getattr(model, name) for name in entity.key))
    if not include_deleted:
        stmt = stmt.where(model.deleted.is_(False))
    return search(stmt, q, *entity.search_columns())


# The index page counts each table's live rows only this far: counting a million products on
# every visit took a second, and "more than 10,000" says what HQ needs to know there.
COUNT_UP_TO = 10_000


def live_count(entity: Entity) -> tuple[int, bool]:
    """How many live rows an entity has, up to COUNT_UP_TO, and whether it has more."""
    model = entity.model
    live = sa.select(model.id).where(model.deleted.is_(False)).limit(COUNT_UP_TO + 1).subquery()
    counted = db.session.scalar(sa.select(sa.func.count()).select_from(live))
    return min(counted, COUNT_UP_TO), counted > COUNT_UP_TO


def snapshot(entity: Entity, row: Any) -> dict[str, Any]:
    """A row's editable values as JSON carries them."""
    return {name: json_value(value) for name, value in entity.values_of(row).items()}


def row_values(entity: Entity, row: Any) -> dict[str, Any]:
    """A row for the API: its id, values, change version and tombstone flag."""
    return {
        "id": row.id,
        **snapshot(entity, row),
        "row_version": row.row_version,
        "deleted": row.deleted,
        "changed_at": json_value(row.changed_at),
    }
