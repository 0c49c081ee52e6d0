"""Applying a package into the local database: a table per package table, keyed as HQ keys it.

A full package replaces the rows of its tables; an incremental one upserts and deletes by key.
Each package is applied in one local transaction, together with the record that it was applied,
so a kill part-way leaves the database as it was before the package.
"""

import csv
import io
import json
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

from portal.agent.errors import ApplyFailed
from portal.agent.local import AGENT_PREFIX, LocalState, quote
from portal.distribution.export import parse_field

# The newest package layout this agent reads (see portal.distribution.package_files).
SCHEMA_VERSION = 2
# Rows written per executemany: keeps memory flat for large catalogues.
CHUNK = 1000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def apply_package(state: LocalState, path: Path, item: dict) -> dict[str, int]:
    """Apply one package file; returns the lines applied per table. Raises ApplyFailed."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _manifest(archive)
            full = manifest.get("kind") == "full"
            counts = {}
            with state.transaction() as conn:
                for table, spec in manifest["tables"].items():
                    counts[table] = _apply_table(conn, state, archive, table, spec, full)
                state.record_package(conn, item, "applied")
            return counts
    except (zipfile.BadZipFile, KeyError, ValueError, csv.Error, sqlite3.Error) as error:
        raise ApplyFailed(f"Package {item['id']} could not be applied: {_reason(error)}") from None


def _manifest(archive: zipfile.ZipFile) -> dict:
    manifest = json.loads(archive.read("manifest.json"))
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(f"package schema version {version!r} is newer than this agent reads")
    if manifest.get("kind") not in ("full", "incremental"):
        raise ValueError(f"unknown package kind {manifest.get('kind')!r}")
    for table in manifest["tables"]:
        _check_name(table, "table")
    return manifest


def _apply_table(conn, state, archive, table: str, spec: dict, full: bool) -> int:
    key = list(spec["key"])
    with archive.open(f"{table}.csv") as raw:
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        header = next(reader, None)
        if not header or header[0] != "op":
            raise ValueError(f"{table}.csv has no header starting with 'op'")
        columns = header[1:]
        for column in columns:
            _check_name(column, "column")
        if not key or not set(key) <= set(columns):
            raise ValueError(f"{table}.csv lacks key column(s) {sorted(set(key) - set(columns))}")
        _ensure_table(conn, state, table, key, columns, full)
        if full:
            conn.execute(f"DELETE FROM {quote(table)}")
        applied = 0
        for ops in _chunks(reader, len(header)):
            applied += _write(conn, table, key, columns, ops)
        return applied


def _ensure_table(conn, state, table: str, key: list[str], columns: list[str], full: bool) -> None:
    """Create the table from the header, or bring an existing one to the package's columns."""
    existing = state.table_spec(table)
    if existing is not None and (existing["key"] != key or existing["columns"] != columns):
        if full:
            # A full package says exactly what the table holds: rebuild it to its shape.
            conn.execute(f"DROP TABLE {quote(table)}")
            existing = None
        elif existing["key"] != key:
            raise ValueError(
                f"table {table} is keyed by {existing['key']} here but {key} in the package; "
                "a full package must rebuild it"
            )
        else:
            added = [c for c in columns if c not in existing["columns"]]
            for column in added:
                conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} TEXT")
            columns = existing["columns"] + added
    if existing is None:
        definition = ", ".join(f"{quote(c)} TEXT" for c in columns)
        primary = ", ".join(quote(k) for k in key)
        conn.execute(f"CREATE TABLE {quote(table)} ({definition}, PRIMARY KEY ({primary}))")
    conn.execute(
        "INSERT INTO agent_table (name, key, columns) VALUES (?, ?, ?) ON CONFLICT (name) "
        "DO UPDATE SET key = excluded.key, columns = excluded.columns",
        (table, json.dumps(key), json.dumps(columns)),
    )


def _chunks(reader, width: int) -> Iterator[list[tuple[str, list[str | None]]]]:
    chunk = []
    for line, row in enumerate(reader, 2):
        if len(row) != width:
            raise ValueError(f"line {line} has {len(row)} fields, the header {width}")
        if row[0] not in ("upsert", "delete"):
            raise ValueError(f"line {line} has unknown operation {row[0]!r}")
        chunk.append((row[0], [parse_field(text) for text in row[1:]]))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _write(conn, table: str, key: list[str], columns: list[str], ops) -> int:
    """Write a chunk of lines in file order (a row may be upserted and later deleted)."""
    positions = [columns.index(k) for k in key]
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in key)
    upsert = (
        f"INSERT INTO {quote(table)} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(quote(k) for k in key)}) "
        + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING")
    )
    delete = f"DELETE FROM {quote(table)} WHERE " + " AND ".join(f"{quote(k)} = ?" for k in key)
    # Consecutive lines of the same operation go in one executemany.
    batch: list = []
    current = None
    for op, values in ops:
        if op != current and batch:
            conn.executemany(upsert if current == "upsert" else delete, batch)
            batch = []
        current = op
        batch.append(values if op == "upsert" else [values[p] for p in positions])
    if batch:
        conn.executemany(upsert if current == "upsert" else delete, batch)
    return len(ops)


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name) or name.lower().startswith((AGENT_PREFIX, "sqlite_")):
        raise ValueError(f"{what} name {name!r} is not allowed")


def _reason(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing entry {error}"
    if isinstance(error, zipfile.BadZipFile):
        return f"not a valid ZIP file ({error})"
    return str(error)
