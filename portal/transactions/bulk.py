"""Writing many rows in one go: fast on PostgreSQL, plain executemany elsewhere.

An executemany on PostgreSQL either sends one statement per row or, with RETURNING, statements
of thousands of placeholders that the driver parses in Python; both cost more than the insert.
So on PostgreSQL rows that may clash go in as one INSERT ... SELECT FROM unnest(arrays), and
rows that cannot clash (the lines of a new sale) go in with COPY.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.extensions import db
from portal.core.sql import is_postgresql, rows_select


def insert(table: sa.Table):
    """An INSERT offering ON CONFLICT, in the dialect of the session's database."""
    return (postgresql.insert if is_postgresql() else sqlite.insert)(table)


def insert_new(
    table: sa.Table, rows: list[dict], unique: Sequence[str], returning: Sequence[str]
) -> list[sa.Row]:
    """Insert the rows whose `unique` columns match no stored row; `returning` of those inserted.

    A row another transaction is inserting meanwhile waits for it to commit, then is skipped.
    """
    if not rows:
        return []
    if is_postgresql():
        values = rows_select(table, rows)
        stmt, params = postgresql.insert(table).from_select(list(rows[0]), values), None
    else:
        stmt, params = sqlite.insert(table), rows
    stmt = stmt.on_conflict_do_nothing(index_elements=list(unique))
    return db.session.execute(stmt.returning(*(table.c[n] for n in returning)), params).all()


def copy_rows(table: sa.Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Append rows (tuples of `columns`) that cannot clash with stored ones (COPY on PostgreSQL).

    The values go to the database as they are: no column type of the model converts them.
    """
    if not rows:
        return
    if not is_postgresql():
        db.session.execute(sa.insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    raw = db.session.connection().connection.dbapi_connection
    names = ", ".join(f'"{name}"' for name in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
