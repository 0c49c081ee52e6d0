"""The one way list pages and the API search for text: anywhere in a value, in any case.

What people type is matched as typed: `%` and `_` are no wildcards, so "10%" finds "10% off".
"""

import sqlalchemy as sa


def escape_like(text: str) -> str:
    """`text` for a LIKE pattern (escape character backslash), its wildcards meaning themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(stmt: sa.Select, text: str | None, *columns: sa.ColumnElement) -> sa.Select:
    """`stmt` narrowed to rows with `text` in one of the columns; unchanged for no text."""
    text = (text or "").strip()
    if not text or not columns:
        return stmt
    pattern = f"%{escape_like(text)}%"
    return stmt.where(sa.or_(*(column.ilike(pattern, escape="\\") for column in columns)))
