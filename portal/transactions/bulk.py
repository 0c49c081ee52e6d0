"""Writing many rows in one go: fast on PostgreSQL, plain executemany elsewhere.

An executemany on PostgreSQL either sends one statement per row or, with RETURNING, statements
of thousands of placeholders that the driver parses in Python; both cost more than the insert.
So on PostgreSQL rows that may clash go in as one INSERT ... SELECT FROM unnest(arrays), and
rows that cannot clash (the lines of a new sale) go in with COPY.
"""

from collections.abc import Sequence
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.extensions import db
from portal.core.sql import is_postgresql


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
    columns = tuple(rows[0])
    if not is_postgresql():
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))
        return db.session.execute(stmt.returning(*(table.c[n] for n in returning)), rows).all()
    # Through the driver, as COPY below: the ORM's execution path and its per-item array
    # processing cost a third of the insert itself on a batch of 500 sales (measured).
    dialect = db.session.get_bind().dialect
    arrays = []
    for name in columns:
        values = [row[name] for row in rows]
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        arrays.append(values if process is None else [process(value) for value in values])
    # The driver's own statement, still through the connection: its events see it, as they see
    # every statement of the unit of work.
    sql = _insert_new_sql(table, columns, tuple(unique), tuple(returning))
    return db.session.connection().exec_driver_sql(sql, tuple(arrays)).all()


@cache
def _insert_new_sql(
    table: sa.Table, columns: tuple[str, ...], unique: tuple[str, ...], returning: tuple[str, ...]
) -> str:
    """INSERT ... SELECT FROM unnest(one array per column) ON CONFLICT DO NOTHING RETURNING."""
    dialect = postgresql.dialect()
    # Binary arrays (%b): the text form quotes every element through a regular expression,
    # which took twice as long to send the arrays (measured).
    arrays = ", ".join(f"%b::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns)
    # Names as SQLAlchemy writes them (quoted only where needed), as listeners expect them.
    quote = dialect.identifier_preparer.quote
    names = {part: ", ".join(map(quote, part)) for part in (columns, unique, returning)}
    return (
        f"INSERT INTO {quote(table.name)} ({names[columns]}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({names[unique]}) DO NOTHING RETURNING {names[returning]}"
    )


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
    quote = postgresql.dialect().identifier_preparer.quote
    copy_sql = f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)
