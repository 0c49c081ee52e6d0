"""The engine of bulk changes: rows checked in chunks, every error collected, then written.

A bulk change is all or nothing: every row is checked (types, required fields, ranges, references
to other tables, duplicate keys) and every error is reported with its row; the caller rolls back
when `finish` raises. Existing rows are found by natural key, a few hundred keys per query.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal.audit import services as audit
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.masterdata.dependents import in_use
from portal.masterdata.entities import Entity, Reference
from portal.masterdata.fields import Invalid
from portal.masterdata.versioning import tombstone, transaction_version

# Errors listed in one refusal; the message still counts them all.
MAX_REPORTED_ERRORS = 1000
# Keys per lookup query: well below the bound-parameter limits of SQLite and PostgreSQL.
QUERY_CHUNK = 500


@dataclass
class Outcome:
    """What a bulk change did (or, validated only, would do) and the change version it took."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    version: int | None = None

    @property
    def changed(self) -> int:
        """Rows inserted, updated or deleted."""
        return self.inserted + self.updated + self.deleted


def api_row(position: int) -> str:
    """How the API names a row of its `rows` list in errors: rows.3."""
    return f"rows.{position}"


def api_key(position: int) -> str:
    """How the API names an entry of its `keys` list in errors: keys.3."""
    return f"keys.{position}"


class Batch:
    """One all-or-nothing change of many rows of an entity, fed in chunks.

    Errors are collected, not raised, so one refusal lists them all; `finish` raises it. After the
    first error nothing more is written (the caller rolls back), but every row is still checked.
    With `write=False` (a dry run) rows are only checked and counted.
    """

    def __init__(
        self, entity: Entity, row_label: Callable[[int], str] = api_row, write: bool = True
    ):
        self.entity = entity
        self.row_label = row_label
        self.write = write
        self.outcome = Outcome()
        self.rows = 0
        self.errors: dict[str, str] = {}
        self.error_count = 0
        self.bad_rows: set[int] = set()
        self._seen: dict[tuple, int] = {}

    def error(self, position: int, field: str, message: str) -> None:
        """Record an error of one field of the row at `position`."""
        self.error_count += 1
        self.bad_rows.add(position)
        if len(self.errors) < MAX_REPORTED_ERRORS:
            label = self.row_label(position)
            self.errors[f"{label}.{field}" if label else field] = message

    def upsert(self, rows: Iterable[tuple[int, dict]], create_only: bool = False) -> None:
        """Check a chunk of (position, row) and insert or update it; revives tombstones."""
        parsed = []
        for position, raw in rows:
            self.rows += 1
            values = self._parse(position, raw, self.entity.field_map)
            if values is not None and self._first(position, values):
                parsed.append((position, values))
        existing = find_rows(self.entity, [self.entity.key_of(values) for _, values in parsed])
        refused = self._check_references(parsed)
        plan = []
        for position, values in parsed:
            row = existing.get(self.entity.key_of(values))
            if create_only and row is not None and not row.deleted:
                self.error(position, self.entity.key[0], "Already taken.")
            elif position not in refused and self._check(position, values, row):
                plan.append((row, values))
        for row, values in plan:
            changes = {n: v for n, v in values.items() if row is None or getattr(row, n) != v}
            if row is None:
                self.outcome.inserted += 1
            elif changes or row.deleted:
                self.outcome.updated += 1
            else:
                continue
            if self._writing:
                if row is None:
                    db.session.add(self.entity.model(**values))
                else:
                    row.deleted = False
                    for name, value in changes.items():
                        setattr(row, name, value)
        if self._writing:
            db.session.flush()

    def delete(self, keys: Iterable[tuple[int, dict]]) -> None:
        """Check a chunk of (position, natural key) and tombstone the live rows among them."""
        parsed = []
        allowed = {name: self.entity.field_map[name] for name in self.entity.key}
        for position, raw in keys:
            self.rows += 1
            values = self._parse(position, raw, allowed)
            if values is not None and self._first(position, values):
                parsed.append((position, values))
        existing = find_rows(self.entity, [self.entity.key_of(values) for _, values in parsed])
        live = [
            (position, row)
            for position, values in parsed
            if (row := existing.get(self.entity.key_of(values))) is not None and not row.deleted
        ]
        used = in_use(self.entity, [row for _, row in live])
        for position, row in live:
            if row.id in used:
                self.error(position, self.entity.key[0], used[row.id])
                continue
            self.outcome.deleted += 1
            if self._writing:
                tombstone(row)
        if self._writing:
            db.session.flush()

    def finish(self, action: str | None) -> Outcome:
        """Raise every error at once, or stamp the version and audit the change as `action`."""
        if self.error_count:
            listed = len(self.errors)
            more = f" The first {listed} errors are listed." if listed < self.error_count else ""
            raise ValidationFailed(
                f"{len(self.bad_rows)} of {self.rows} row(s) have errors; nothing was saved.{more}",
                self.errors,
            )
        if self.write and self.outcome.changed:
            db.session.flush()
            self.outcome.version = transaction_version(db.session)
            if action:
                audit.record(action, self.entity.name, self._subject(), after=vars(self.outcome))
        return self.outcome

    @property
    def first_key(self) -> tuple | None:
        """The natural key of the first row checked."""
        return next(iter(self._seen), None)

    @property
    def _writing(self) -> bool:
        return self.write and not self.error_count

    def _subject(self) -> str:
        if self.rows == 1 and self.first_key is not None:
            return self.entity.key_text(self.first_key)[:100]
        return f"{self.rows} rows"

    def _parse(self, position: int, raw: Any, allowed: dict) -> dict | None:
        if not isinstance(raw, dict):
            self.error(position, "row", "Not an object of field values.")
            return None
        values, valid = {}, True
        for name, value in raw.items():
            field = allowed.get(name)
            try:
                if field is None:
                    raise Invalid("Unknown field.")
                values[name] = field.parse(value)
            except Invalid as error:
                self.error(position, name, str(error))
                valid = False
        for name in self.entity.key:
            if name in raw:
                continue
            if allowed[name].has_default:
                values[name] = allowed[name].parse(None)
            else:
                self.error(position, name, "Required.")
                valid = False
        return values if valid else None

    def _first(self, position: int, values: dict) -> bool:
        first = self._seen.setdefault(self.entity.key_of(values), position)
        if first != position:
            self.error(position, self.entity.key[0], f"Same key as {self.row_label(first)}.")
        return first == position

    def _check(self, position: int, values: dict, row: Any) -> bool:
        merged = {**(self.entity.values_of(row) if row is not None else {}), **values}
        problems = {}
        for field in self.entity.fields:
            if row is None and field.name not in values:
                if field.has_default or field.nullable:
                    merged[field.name] = field.default
                else:
                    problems[field.name] = "Required."
        for check in self.entity.checks:
            problems.update(check(merged))
        for name, message in problems.items():
            self.error(position, name, message)
        return not problems

    def _check_references(self, parsed: list[tuple[int, dict]]) -> set[int]:
        refused = set()
        for reference in self.entity.references:
            wanted: dict[Any, list[int]] = {}
            for position, values in parsed:
                value = values.get(reference.field)
                for item in value if isinstance(value, list) else [value]:
                    if item is not None:
                        wanted.setdefault(item, []).append(position)
            if not wanted:
                continue
            found = self._live(reference, list(wanted))
            for item, positions in wanted.items():
                if item not in found:
                    for position in positions:
                        self.error(position, reference.field, reference.message(item))
                        refused.add(position)
        return refused

    def _live(self, reference: Reference, values: list) -> set:
        table = reference.table()
        column = table.c[reference.column]
        found = set()
        for part in _chunks(values, QUERY_CHUNK):
            stmt = sa.select(column).where(column.in_(part))
            if "deleted" in table.c:
                stmt = stmt.where(table.c.deleted.is_(False))
            found.update(db.session.scalars(stmt))
        if reference.target == self.entity.name and self.entity.key == (reference.column,):
            # A row may name another row of the same change (a category and its parent).
            found.update(key[0] for key in self._seen)
        return found


def find_rows(entity: Entity, keys: list[tuple]) -> dict[tuple, Any]:
    """The rows (tombstones included) with these natural keys, by key."""
    model = entity.model
    columns = [getattr(model, name) for name in entity.key]
    found = {}
    for part in _chunks(keys, QUERY_CHUNK):
        if len(columns) == 1:
            where = columns[0].in_([key[0] for key in part])
        else:
            where = sa.tuple_(*columns).in_(part)
        for row in db.session.scalars(sa.select(model).where(where)):
            found[entity.row_key(row)] = row
    return found


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
