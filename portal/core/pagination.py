"""Keyset pagination for the JSON API: `{"items": [...], "next": cursor}`."""

import base64
import json
from typing import Any

import sqlalchemy as sa

from portal.core.errors import ValidationFailed
from portal.extensions import db


def encode_cursor(value: Any) -> str:
    """An opaque cursor that resumes a listing after `value`."""
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The key value a cursor resumes after, or a field error for a forged or stale one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        (value,) = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed("The cursor is not valid.", {"cursor": "Not a cursor."}) from None
    return value


def keyset_page(
    stmt: sa.Select, key: sa.orm.InstrumentedAttribute, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page of `stmt` ordered by the unique column `key`, and the cursor of the next one."""
    if cursor:
        stmt = stmt.where(key > decode_cursor(cursor))
    rows = list(db.session.scalars(stmt.order_by(None).order_by(key).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(getattr(rows[-1], key.key))
