"""Keyset pagination for the JSON API: `{"items": [...], "next": cursor}`."""

import base64
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.storable import Unstorable, check_int, check_time, problems

_BAD_CURSOR = ("The cursor is not valid.", {"cursor": "Not a cursor this list gave."})


def encode_cursor(value: Any) -> str:
    """An opaque cursor that resumes a listing after `value`."""
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The key value a cursor resumes after, or a field error for a forged or stale one.

    Only what `encode_cursor` writes comes back: text, a whole number, or a list of them, each
    storable; anything else (`null`, a huge number, a lone surrogate) is not a cursor.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        (value,) = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, UnicodeError, RecursionError):
        raise ValidationFailed(*_BAD_CURSOR) from None
    if not _cursor_value(value):
        raise ValidationFailed(*_BAD_CURSOR)
    return value


def _cursor_value(value: Any, nested: bool = False) -> bool:
    if isinstance(value, list) and not nested:
        return all(_cursor_value(item, nested=True) for item in value)
    if isinstance(value, dict) and nested:
        return set(value) == {"at"} and isinstance(value["at"], str) and not problems(value)
    storable = isinstance(value, str | int) and not isinstance(value, bool)
    return storable and not problems(value)


def keyset_page(
    stmt: sa.Select, key: sa.orm.InstrumentedAttribute, cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    """One page of `stmt` ordered by the unique column `key`, and the cursor of the next one."""
    if cursor:
        stmt = stmt.where(key > _key_value(decode_cursor(cursor), key))
    rows = list(db.session.scalars(stmt.order_by(None).order_by(key).limit(limit + 1)))
    return page_of(rows, key, limit)


def keyset_rows(
    stmt: sa.Select,
    key: sa.orm.InstrumentedAttribute,
    cursor: str | None,
    limit: int,
    params: dict | None = None,
) -> tuple[list[sa.Row], str | None]:
    """As `keyset_page`, for a select of plain columns (`key` among them, and the statement
    ordered by it): rows, no objects; `params` bind the statement's own parameters."""
    if cursor:
        stmt = stmt.where(key > _key_value(decode_cursor(cursor), key))
    return page_of(list(db.session.execute(stmt.limit(limit + 1), params)), key, limit)


def page_of(rows: list, key: sa.orm.InstrumentedAttribute, limit: int) -> tuple[list, str | None]:
    """The first `limit` of `rows` (read with one more) and the cursor of the next page."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(getattr(rows[-1], key.key))


def _key_value(value: Any, key: sa.orm.InstrumentedAttribute) -> Any:
    """The cursor's value if it has the type of the column the list is ordered by."""
    column = key.expression.type
    if isinstance(column, sa.Integer):
        bits = 64 if isinstance(column, sa.BigInteger) else 32
        if type(value) is int:
            try:
                return check_int(value, bits)
            except Unstorable:
                pass
    elif isinstance(column, sa.String) and isinstance(value, str):
        return value
    raise ValidationFailed(*_BAD_CURSOR)


def _to_json(value: Any) -> Any:
    return {"at": value.isoformat()} if isinstance(value, datetime) else value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        try:
            at = check_time(datetime.fromisoformat(value["at"]))
        except (KeyError, TypeError, ValueError):
            raise ValidationFailed(*_BAD_CURSOR) from None
        if at.tzinfo is None:
            raise ValidationFailed(*_BAD_CURSOR)
        return at
    return value


def keyset_page_desc(
    stmt: sa.Select,
    keys: tuple[sa.orm.InstrumentedAttribute, ...],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """One page of `stmt` newest first by `keys` (e.g. created_at, id), and the next cursor."""
    rows, older, _ = keyset_window_desc(stmt, keys, limit, after=cursor)
    return rows, older


def keyset_window_desc(
    stmt: sa.Select,
    keys: tuple[sa.orm.InstrumentedAttribute, ...],
    limit: int,
    after: str | None = None,
    before: str | None = None,
) -> tuple[list[Any], str | None, str | None]:
    """A page of `stmt` newest first by `keys`, with the cursors of the older and newer pages.

    The page holds the rows just older than `after`, or just newer than `before`, or the newest
    rows; the older page is asked for with `after=`, the newer one with `before=`. `keys` is a
    timestamp column, any whole-number columns that order rows of the same instant (a sale's
    sequence), and the integer primary key last: the id makes the keys unique, so equal
    timestamps neither repeat nor drop rows between pages.
    """
    # The comparisons are spelled out rather than row values so both databases use the index.
    if before:
        values = _decode_keys(before, keys)
        newer = _beyond(keys, values, newer=True)
        ascending = stmt.where(newer).order_by(None).order_by(*keys).limit(limit + 1)
        rows = list(db.session.scalars(ascending))
        if not rows:  # everything newer went away: start again from the newest
            return keyset_window_desc(stmt, keys, limit)
        page = rows[:limit][::-1]
        more = len(rows) > limit
        return page, _pair_cursor(page[-1], keys), _pair_cursor(page[0], keys) if more else None
    if after:
        stmt = stmt.where(_beyond(keys, _decode_keys(after, keys), newer=False))
    stmt = stmt.order_by(None).order_by(*(key.desc() for key in keys)).limit(limit + 1)
    rows = list(db.session.scalars(stmt))
    older = _pair_cursor(rows[limit - 1], keys) if len(rows) > limit else None
    page = rows[:limit]
    newer = None
    if after:
        # The newer page ends just before this one; an empty page steps back from its cursor.
        newer = _pair_cursor(page[0], keys) if page else after
    return page, older, newer


def _beyond(keys, values: list, newer: bool) -> sa.ColumnElement[bool]:
    """Rows after `values` in the order of `keys`: (a < x) or (a = x and b < y) or ..."""
    alternatives = []
    for n, key in enumerate(keys):
        equal = [k == v for k, v in zip(keys[:n], values[:n], strict=True)]
        past = key > values[n] if newer else key < values[n]
        alternatives.append(sa.and_(*equal, past))
    return sa.or_(*alternatives)


def _decode_keys(cursor: str, keys) -> list:
    values = decode_cursor(cursor)
    if not isinstance(values, list) or len(values) != len(keys):
        raise ValidationFailed(*_BAD_CURSOR)
    at, *rest = (_from_json(v) for v in values)
    if not isinstance(at, datetime):
        raise ValidationFailed(*_BAD_CURSOR)
    return [at, *(_key_value(value, key) for value, key in zip(rest, keys[1:], strict=True))]


def _pair_cursor(row: Any, keys) -> str:
    return encode_cursor([_to_json(getattr(row, k.key)) for k in keys])
