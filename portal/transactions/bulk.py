"""Writing many rows in one go: fast on PostgreSQL, plain executemany elsewhere.

An executemany on PostgreSQL either sends one statement per row or, with RETURNING, statements
of thousands of placeholders that the driver parses in Python; both cost more than the insert.
So on PostgreSQL rows that may clash go in as INSERT ... SELECT FROM unnest(arrays), in parts
that overlap with the caller's work (`new_rows`), and rows that cannot clash (the lines of a new
sale) go in with COPY, which the database finishes while the caller goes on (`appending`).
"""

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import cache

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.extensions import db
from portal.core.sql import is_postgresql


def insert(table: sa.Table):
    """An INSERT offering ON CONFLICT, in the dialect of the session's database."""
    return (postgresql.insert if is_postgresql() else sqlite.insert)(table)


class NewRows:
    """Rows inserted in parts, each only where its `unique` columns match no stored row (nor
    one of an earlier part): `send` a part, then read what `inserted` returns of them all.

    A row another transaction is inserting meanwhile waits for it to commit, then is skipped.
    Use it through `new_rows`. Here (SQLite) each part is inserted when sent.
    """

    def __init__(self, table: sa.Table, unique: Sequence[str], returning: Sequence[str]) -> None:
        self._table, self._unique, self._returning = table, tuple(unique), tuple(returning)
        self._parts: list = []

    def send(self, rows: list[dict]) -> None:
        """Insert a part (dicts of the same columns)."""
        if rows:
            self._parts.append(self._send(rows))

    def inserted(self) -> list[sa.Row]:
        """`returning` of the rows inserted, part by part."""
        return [row for part in self._parts for row in self._returned(part)]

    def _send(self, rows: list[dict]):
        stmt = sqlite.insert(self._table).on_conflict_do_nothing(index_elements=self._unique)
        returning = (self._table.c[name] for name in self._returning)
        return db.session.execute(stmt.returning(*returning), rows).all()

    def _returned(self, part) -> list:
        return part


class _PipelinedNewRows(NewRows):
    """PostgreSQL: each part one INSERT ... SELECT FROM unnest(arrays), sent without waiting."""

    def __init__(self, raw, *args) -> None:
        super().__init__(*args)
        self._raw = raw

    def _send(self, rows: list[dict]):
        # Through the driver, as COPY below: the ORM's execution path and its per-item array
        # processing cost a third of the insert itself on a batch of 500 sales (measured).
        columns = tuple(rows[0])
        cursor = self._raw.cursor()
        cursor.execute(
            _insert_new_sql(self._table, columns, self._unique, self._returning),
            _arrays(self._table, columns, rows),
        )
        return cursor

    def _returned(self, part) -> list:
        with part:
            return part.fetchall()


@contextmanager
def new_rows(table: sa.Table, unique: Sequence[str], returning: Sequence[str]) -> Iterator[NewRows]:
    """A `NewRows` for the open unit of work; read `inserted` within the block.

    On PostgreSQL the parts go through the driver in pipeline mode: each is sent at once and
    the server inserts it while Python goes on (preparing the next part of a batch of sales
    takes about as long as inserting one, measured), so the two overlap on two cores. The
    connection does nothing else meanwhile: the block only sends parts. Like COPY, these
    statements are the driver's own, unseen by the engine's events.
    """
    if not is_postgresql():
        yield NewRows(table, unique, returning)
        return
    raw = db.session.connection().connection.dbapi_connection
    with raw.pipeline():
        yield _PipelinedNewRows(raw, table, unique, returning)


def _arrays(table: sa.Table, columns: tuple[str, ...], rows: list[dict]) -> tuple:
    """One array per column, each value as the column's type binds it."""
    dialect = db.session.get_bind().dialect
    arrays = []
    for name in columns:
        values = [row[name] for row in rows]
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        arrays.append(values if process is None else [process(value) for value in values])
    return tuple(arrays)


@cache
def _insert_new_sql(
    table: sa.Table, columns: tuple[str, ...], unique: tuple[str, ...], returning: tuple[str, ...]
) -> str:
    """INSERT ... SELECT FROM unnest(one array per column) ON CONFLICT DO NOTHING RETURNING."""
    dialect = postgresql.dialect()
    # Binary arrays (%b): the text form quotes every element through a regular expression,
    # which took twice as long to send the arrays (measured).
    arrays = ", ".join(f"%b::{table.c[name].type.compile(dialect=dialect)}[]" for name in columns)
    # Names as SQLAlchemy writes them (quoted only where needed).
    quote = dialect.identifier_preparer.quote
    names = {part: ", ".join(map(quote, part)) for part in (columns, unique, returning)}
    return (
        f"INSERT INTO {quote(table.name)} ({names[columns]}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({names[unique]}) DO NOTHING RETURNING {names[returning]}"
    )


Rows = tuple[sa.Table, Sequence[str], list[tuple]]


@contextmanager
def appending(writes: Sequence[Rows]) -> Iterator[None]:
    """Append rows that cannot clash with stored ones, `(table, columns, rows)` one table after
    another (each row a tuple of `columns`), while the block runs.

    The values go to the database as they are: no column type of the model converts them. On
    PostgreSQL the rows go in with COPY, sent before the block; a helper thread then waits for
    the database to take them in (their foreign-key checks are most of the work) while the
    block's Python runs, on the machine's other core. The block's first statement waits for
    them (an engine event on the unit of work's connection), else the block's end does; either
    raises their error. An error of the block wins over theirs. Elsewhere the rows are written
    before the block.
    """
    writes = [write for write in writes if write[2]]
    if not writes or not is_postgresql():
        for table, columns, rows in writes:
            db.session.execute(
                sa.insert(table), [dict(zip(columns, row, strict=True)) for row in rows]
            )
        yield
        return
    connection = db.session.connection()
    raw = connection.connection.dbapi_connection
    (table, columns, rows), *rest = writes
    with ExitStack() as sending:
        _copy(sending, raw, table, columns, rows)
        copying = sending.pop_all()

    def take_in() -> None:
        # The driver's connection lock, held since the COPY began, keeps any other use of the
        # connection waiting until the last COPY ends.
        copying.close()
        for table, columns, rows in rest:
            with ExitStack() as copy:
                _copy(copy, raw, table, columns, rows)

    # Leaving the pool joins the thread, also when the block raised.
    with ThreadPoolExecutor(1) as helper:
        taken_in = helper.submit(take_in)
        waited = False

        def wait(*_) -> None:
            nonlocal waited
            if not waited:
                waited = True
                taken_in.result()

        event.listen(connection, "before_cursor_execute", wait)
        try:
            yield
        finally:
            event.remove(connection, "before_cursor_execute", wait)
        wait()


def _copy(stack: ExitStack, raw, table: sa.Table, columns: Sequence[str], rows: list[tuple]):
    """Send the rows in a COPY, which ends when `stack` closes."""
    quote = postgresql.dialect().identifier_preparer.quote
    copy_sql = f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN"
    cursor = stack.enter_context(raw.cursor())
    copy = stack.enter_context(cursor.copy(copy_sql))
    for row in rows:
        copy.write_row(row)
