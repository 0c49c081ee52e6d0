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
    """One page of `stmt` newest first by `keys` (e.g. created_at, id), and the next cursor."""
    rows, older, _ = keyset_window_desc(stmt, keys, limit, after=cursor)
    return rows, older


def keyset_window_desc(
    stmt: sa.Select,
    keys: tuple[sa.orm.InstrumentedAttribute, sa.orm.InstrumentedAttribute],
    limit: int,
    after: str | None = None,
    before: str | None = None,
) -> tuple[list[Any], str | None, str | None]:
    """A page of `stmt` newest first by `keys`, with the cursors of the older and newer pages.

    The page holds the rows just older than `after`, or just newer than `before`, or the newest
    rows; the older page is asked for with `after=`, the newer one with `before=`. `keys` is a
    timestamp column and the integer primary key: the id makes the pair unique, so equal
    timestamps neither repeat nor drop rows between pages.
    """
    first, second = keys
    # The comparisons are spelled out rather than row values so both databases use the index.
    if before:
        at, row_id = _decode_pair(before)
        newer = sa.or_(first > at, sa.and_(first == at, second > row_id))
        ascending = stmt.where(newer).order_by(None).order_by(first, second).limit(limit + 1)
        rows = list(db.session.scalars(ascending))
        if not rows:  # everything newer went away: start again from the newest
            return keyset_window_desc(stmt, keys, limit)
        page = rows[:limit][::-1]
        more = len(rows) > limit
        return page, _pair_cursor(page[-1], keys), _pair_cursor(page[0], keys) if more else None
    if after:
        at, row_id = _decode_pair(after)
        stmt = stmt.where(sa.or_(first < at, sa.and_(first == at, second < row_id)))
    stmt = stmt.order_by(None).order_by(first.desc(), second.desc()).limit(limit + 1)
    rows = list(db.session.scalars(stmt))
    older = _pair_cursor(rows[limit - 1], keys) if len(rows) > limit else None
    page = rows[:limit]
    newer = None
    if after:
        # The newer page ends just before this one; an empty page steps back from its cursor.
        newer = _pair_cursor(page[0], keys) if page else after
    return page, older, newer


def _decode_pair(cursor: str) -> tuple[datetime, int]:
    values = decode_cursor(cursor)
    if not isinstance(values, list) or len(values) != 2:
        raise ValidationFailed(*_BAD_CURSOR)
    at, row_id = (_from_json(v) for v in values)
    if not isinstance(at, datetime) or type(row_id) is not int:
        raise ValidationFailed(*_BAD_CURSOR)
    return at, row_id


def _pair_cursor(row: Any, keys) -> str:
    return encode_cursor([_to_json(getattr(row, k.key)) for k in keys])
