"""Import master data rows from a CSV file, all or nothing, reading it as a stream.

The header row names the entity's fields (any order; at least its natural key). An `op` column
(`upsert` or `delete`) or a `delete` column (true/false) marks the rows to delete. The file is
UTF-8, with or without a byte order mark. Errors name the file's line numbers.
"""

import codecs
import csv
from typing import Any, BinaryIO

from portal.core.errors import ValidationFailed
from portal.masterdata.bulk import QUERY_CHUNK, Batch, Outcome
from portal.masterdata.entities import Entity, get_entity
from portal.masterdata.fields import FALSE, TRUE

CONTROL_COLUMNS = ("op", "delete")


def line_label(line: int) -> str:
    """How errors name a row of a CSV file: line 3."""
    return f"line {line}"


def import_csv(entity_name: str, stream: BinaryIO, dry_run: bool = False) -> Outcome:
    """Check every row of the file and, unless a dry run, upsert and delete them in one change."""
    entity = get_entity(entity_name)
    batch = Batch(entity, line_label, write=not dry_run)
    reader = csv.reader(codecs.iterdecode(stream, "utf-8-sig"))
    try:
        header = _header(entity, next(reader, None))
        _feed(batch, entity, header, reader)
    except UnicodeDecodeError:
        line = f"line {reader.line_num + 1}"
        raise ValidationFailed("The file is not UTF-8 text.", {line: "Not UTF-8."}) from None
    except csv.Error as error:
        line = f"line {reader.line_num}"
        raise ValidationFailed(f"The file is not valid CSV: {error}.", {line: str(error)}) from None
    if not batch.rows and not batch.error_count:
        raise ValidationFailed("The file has a header but no rows.", {"line 2": "No rows."})
    return batch.finish(None if dry_run else "import_csv")


def _header(entity: Entity, header: list[str] | None) -> list[str]:
    if not header:
        raise ValidationFailed("The file is empty.", {"line 1": "Expected a header row."})
    names = [name.strip().lower() for name in header]
    problems = {}
    for name in names:
        if names.count(name) > 1:
            problems[f"line 1.{name}"] = "Repeated column."
        elif name not in entity.field_map and name not in CONTROL_COLUMNS:
            problems[f"line 1.{name or '(blank)'}"] = "Unknown field."
    for name in entity.key:
        if name not in names:
            problems[f"line 1.{name}"] = "Required column: it is part of the natural key."
    if all(control in names for control in CONTROL_COLUMNS):
        problems["line 1.op"] = "Use an op column or a delete column, not both."
    if problems:
        raise ValidationFailed("The header row does not fit this table.", problems)
    return names


def _feed(batch: Batch, entity: Entity, header: list[str], reader: Any) -> None:
    upserts: list[tuple[int, dict]] = []
    deletes: list[tuple[int, dict]] = []
    end = reader.line_num
    for cells in reader:
        # A quoted cell may span lines: name a row by the line it starts on.
        line, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            batch.rows += 1
            batch.error(line, "row", f"Expected {len(header)} cells, found {len(cells)}.")
            continue
        row = dict(zip(header, cells, strict=True))
        delete = _is_delete(batch, line, row)
        if delete is None:
            batch.rows += 1
            continue
        if delete:
            deletes.append((line, {name: row[name] for name in entity.key}))
        else:
            upserts.append((line, row))
        if len(upserts) >= QUERY_CHUNK:
            batch.upsert(upserts)
            upserts = []
        if len(deletes) >= QUERY_CHUNK:
            batch.delete(deletes)
            deletes = []
    batch.upsert(upserts)
    batch.delete(deletes)


def _is_delete(batch: Batch, line: int, row: dict[str, str]) -> bool | None:
    """Whether the row asks for a deletion (its control column removed), or None if unclear."""
    if "op" in row:
        op = row.pop("op").strip().lower()
        if op in ("", "upsert", "delete"):
            return op == "delete"
        batch.error(line, "op", "Use upsert or delete.")
        return None
    if "delete" in row:
        flag = row.pop("delete").strip().lower()
        if flag in TRUE or flag in FALSE or not flag:
            return flag in TRUE
        batch.error(line, "delete", "Not true or false.")
        return None
    return False
