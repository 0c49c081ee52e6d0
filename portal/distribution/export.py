"""Exporting a table's package lines as CSV, the same bytes from PostgreSQL's COPY or from Python.

Every value is quoted, NULL is an unquoted \\N and backslashes inside values are doubled, so a
reader tells NULL from the text "\\N". PostgreSQL writes the file itself with COPY (the fast path
for large catalogues); other databases stream rows through Python into the same format.
"""

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal.core.sql import is_postgresql

NULL = "\\N"
COPY_OPTIONS = "FORMAT csv, HEADER, FORCE_QUOTE *, NULL '\\N'"
# COPY hands over one row at a time; the compressor and the zip entry get pieces this large, as
# their cost per call (checksum, compressor call, bookkeeping) outweighs a row's own.
CHUNK_BYTES = 256 * 1024


class TableExport:
    """The CSV bytes of one select of `(op, *columns)`; `rows` is known once they are read."""

    def __init__(self, connection: sa.Connection, stmt: sa.Select, header: bool):
        self.connection = connection
        self.stmt = stmt
        self.header = header
        self.rows = 0

    def chunks(self) -> Iterator[bytes | bytearray]:
        """Stream the CSV, by COPY on PostgreSQL and through Python elsewhere."""
        if is_postgresql(self.connection):
            yield from self._copy()
        else:
            yield from self._python()

    def _copy(self) -> Iterator[bytearray]:
        sql = str(self.stmt.compile(self.connection, compile_kwargs={"literal_binds": True}))
        options = COPY_OPTIONS if self.header else COPY_OPTIONS.replace("HEADER, ", "")
        raw = self.connection.connection.dbapi_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY ({sql}) TO STDOUT WITH ({options})") as copy:
                piece = bytearray()
                for row in copy:
                    piece += row
                    if len(piece) >= CHUNK_BYTES:
                        yield piece
                        # A new buffer, as the reader may still hold the one just yielded.
                        piece = bytearray()
                if piece:
                    yield piece
            # Known only once the copy has ended, and gone once the cursor closes.
            self.rows = cursor.rowcount

    def _python(self) -> Iterator[bytes]:
        result = self.connection.execute(self.stmt, execution_options={"yield_per": 2000})
        if self.header:
            yield (",".join(result.keys()) + "\n").encode()
        batch = []
        for row in result:
            batch.append(",".join(_field(value) for value in row))
            if len(batch) == 2000:
                yield ("\n".join(batch) + "\n").encode()
                self.rows += len(batch)
                batch = []
        if batch:
            yield ("\n".join(batch) + "\n").encode()
            self.rows += len(batch)


def text_column(column: sa.ColumnElement) -> sa.ColumnElement:
    """A column rendered as the text the CSV holds, backslashes doubled."""
    name = column.key
    if isinstance(column.type, sa.String | sa.Text | sa.JSON):
        return sa.func.replace(sa.cast(column, sa.Text), "\\", "\\\\").label(name)
    return column.label(name)


def _field(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        text = "t" if value else "f"
    elif isinstance(value, Decimal | int | date):
        text = str(value) if not isinstance(value, date) else value.isoformat()
    elif isinstance(value, list | dict):
        text = json.dumps(value)
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def parse_field(text: str) -> str | None:
    """Read one CSV field back: None for NULL, else the text with backslashes undoubled."""
    return None if text == NULL else text.replace("\\\\", "\\")
