"""Keyset pagination for the JSON API: `{"items": [...], "next": cursor}`."""

import base64
import json
from datetime import datetime
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


_BAD_CURSOR = ("The cursor is not valid.", {"cursor": "Not a cursor."})


def _to_json(value: Any) -> Any:
    return {"at": value.isoformat()} if isinstance(value, datetime) else value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        try:
            at = datetime.fromisoformat(value["at"])
        except (KeyError, TypeError, ValueError):
            raise ValidationFailed(*_BAD_CURSOR) from None
        if at.tzinfo is None:
            raise ValidationFailed(*_BAD_CURSOR)
        return at
    return value


def keyset_page_desc(
    stmt: sa.Select,
    keys: tuple[sa.orm.InstrumentedAttribute, sa.orm.InstrumentedAttribute],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """One page of `stmt` newest first by `keys` (e.g. created_at, id), and the next cursor.

    `keys` is a timestamp column and the integer primary key: the id makes the pair unique, so
    equal timestamps neither repeat nor drop rows between pages.
    """
    first, second = keys
    if cursor:
        values = decode_cursor(cursor)
        if not isinstance(values, list) or len(values) != 2:
            raise ValidationFailed(*_BAD_CURSOR)
        after_first, after_second = (_from_json(v) for v in values)
        if not isinstance(after_first, datetime) or type(after_second) is not int:
            raise ValidationFailed(*_BAD_CURSOR)
        # Spelled out rather than a row-value comparison so both databases use the index.
        stmt = stmt.where(
            sa.or_(first < after_first, sa.and_(first == after_first, second < after_second))
        )
    stmt = stmt.order_by(None).order_by(first.desc(), second.desc()).limit(limit + 1)
    rows = list(db.session.scalars(stmt))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([_to_json(getattr(last, k.key)) for k in keys])
