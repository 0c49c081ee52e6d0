"""CSV import and export of stores and registers, with the columns of the API's fields.

An import creates the records it does not know and changes the others, each through the same
service as a single create or change; it is all or nothing, and every row is checked before the
refusal lists every error at once (`line 3.store`). A saved import is one operation of the
audit trail.

Registers it creates with Support offline are switched on together once every row is in,
through the rule a bulk change uses (`registers.switch_support_offline`), each refused at its
line as a single switch would be: one register at a time, the switch took two thirds of a new
register's import (measured).
"""

import csv
import io
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.audit import operations
from portal.audit import services as audit
from portal.core.downloads import csv_response
from portal.core.errors import DomainError, ValidationFailed
from portal.core.extensions import db
from portal.core.storable import text_problem
from portal.masterdata.fields import FALSE, TRUE
from portal.setup.models import Register, Store
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores

COLUMNS = {
    "stores": (
        "store_number",
        "name",
        "currency",
        "tax_group",
        "time_zone",
        "channel_data_group",
        "offline_profile",
        "price_group",
        "assortment",
    ),
    "registers": ("register_number", "store", "support_offline", "offline_profile", "active"),
}
KEYS = {"stores": "store_number", "registers": "register_number"}
BOOLEANS = ("support_offline", "active")
# Columns a blank cell clears (a reference to nothing) rather than leaves out.
NULLABLE = ("channel_data_group", "offline_profile", "price_group", "assortment")
# Records read per query while exporting.
EXPORT_CHUNK = 1000
# Errors listed in one refusal; the message still counts them all.
MAX_REPORTED_ERRORS = 1000


def export_rows(kind: str) -> Iterator[list]:
    """Every store or register as a CSV row, by number, read a chunk at a time."""
    model = Store if kind == "stores" else Register
    key = getattr(model, KEYS[kind])
    options = (
        [selectinload(Store.channel_data_group), selectinload(Store.offline_profile)]
        if kind == "stores"
        else [selectinload(Register.store), selectinload(Register.offline_profile)]
    )
    last = None
    while True:
        stmt = sa.select(model).order_by(key).limit(EXPORT_CHUNK).options(*options)
        if last is not None:
            stmt = stmt.where(key > last)
        records = db.session.scalars(stmt).all()
        if not records:
            return
        for record in records:
            yield [_cell(getattr(record, column)) for column in COLUMNS[kind]]
        last = getattr(records[-1], KEYS[kind])
        db.session.expunge_all()


def export_response(kind: str):
    """The CSV download of every store or register."""
    return csv_response(f"{kind}.csv", COLUMNS[kind], export_rows(kind))


def export_text(kind: str) -> str:
    """Every store or register as CSV text (for the command line)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS[kind])
    writer.writerows(export_rows(kind))
    return out.getvalue()


def import_csv(kind: str, content: bytes, dry_run: bool = False) -> dict:
    """Create or change the file's records, all or nothing; the caller commits or rolls back.

    A dry run checks and counts every row as a real import would (the caller rolls it back).
    """
    rows = _rows(kind, content)
    errors: dict[str, str] = {}
    bad_lines: set[int] = set()
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    operation = operations.start(f"{kind}.import", kind[:-1], {"rows": len(rows)}, len(rows))
    seen: dict[str, int] = {}
    # New registers to switch Support offline on for, with their lines.
    offline: dict[int, int] = {}

    def refuse(line: int, problems: dict[str, str]) -> None:
        for name, message in problems.items():
            bad_lines.add(line)
            if len(errors) < MAX_REPORTED_ERRORS:
                errors[f"line {line}.{name}"] = message

    with operations.recording(operation):
        for line, values in rows:
            problems = _cell_problems(kind, values)
            key = (values.get(KEYS[kind]) or "").strip().upper()
            if key and key in seen:
                problems[KEYS[kind]] = f"Same {KEYS[kind]} as line {seen[key]}."
            seen.setdefault(key, line)
            if not problems:
                try:
                    with db.session.begin_nested():
                        outcome, created_offline = _upsert(kind, _data(values))
                    counts[outcome] += 1
                    if created_offline is not None:
                        offline[created_offline] = line
                except DomainError as error:
                    problems = _row_problems(error)
            refuse(line, problems)
        for line, problems in _offline_refusals(offline).items():
            refuse(line, problems)
        if offline and not bad_lines:
            registers.switch_support_offline(list(offline), True)
    if bad_lines:
        raise ValidationFailed(
            f"{len(bad_lines)} of {len(rows)} row(s) have errors; nothing was saved.", errors
        )
    operation.changed = counts["created"] + counts["updated"]
    operation.unchanged = counts["unchanged"]
    operations.finish(operation)
    return {
        "dry_run": dry_run,
        "rows": len(rows),
        **counts,
        "operation": None if dry_run else operation.id,
    }


def _rows(kind: str, content: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The file is not UTF-8 text.", {"line 1": "Not UTF-8."}) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise ValidationFailed("The file is empty.", {"line 1": "Expected a header row."})
        names = [name.strip().lower() for name in header]
        _check_header(kind, names)
        rows, end = [], reader.line_num
        for cells in reader:
            line, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                raise ValidationFailed(
                    f"Line {line} has {len(cells)} cells; the header has {len(names)}.",
                    {f"line {line}": f"Expected {len(names)} cells, found {len(cells)}."},
                )
            rows.append((line, dict(zip(names, cells, strict=True))))
    except csv.Error as error:
        line = f"line {reader.line_num}"
        raise ValidationFailed(f"The file is not valid CSV: {error}.", {line: str(error)}) from None
    if not rows:
        raise ValidationFailed("The file has a header but no rows.", {"line 2": "No rows."})
    return rows


def _check_header(kind: str, names: list[str]) -> None:
    problems = {}
    for name in names:
        if text_problem(name):
            problems["line 1"] = "Holds a character no column stores."
        elif names.count(name) > 1:
            problems[f"line 1.{name}"] = "Repeated column."
        elif name not in COLUMNS[kind]:
            problems[f"line 1.{name or '(blank)'}"] = (
                f"Unknown column; use {', '.join(COLUMNS[kind])}."
            )
    if KEYS[kind] not in names:
        problems[f"line 1.{KEYS[kind]}"] = "Required column."
    if problems:
        raise ValidationFailed("The header row does not fit this file's records.", problems)


def _cell_problems(kind: str, values: dict[str, str]) -> dict[str, str]:
    problems = {}
    for name, value in values.items():
        if problem := text_problem(value):
            problems[name] = problem
        elif name in BOOLEANS and value.strip().lower() not in TRUE | FALSE | {""}:
            problems[name] = "Not true or false."
    return problems


def _data(values: dict[str, str]) -> dict:
    data = {}
    for name, value in values.items():
        text = value.strip()
        if name in BOOLEANS:
            if text:
                data[name] = text.lower() in TRUE
        elif name in NULLABLE:
            data[name] = text or None
        else:
            data[name] = text
    return data


def _upsert(kind: str, data: dict) -> tuple[str, int | None]:
    """Create or change one record through its service: which of the counts it adds to, and
    the id of a register created to have Support offline, still without it."""
    if kind == "stores":
        number = (data.get("store_number") or "").strip().upper()
        found = db.session.scalar(sa.select(Store).filter_by(store_number=number))
        if found is None:
            stores.create_store(data)
            return "created", None
        before = _state(found)
        stores.update_store(found, data)
        return "updated" if _state(found) != before else "unchanged", None
    number = (data.get("register_number") or "").strip().upper()
    found = db.session.scalar(sa.select(Register).filter_by(register_number=number))
    if found is None:
        wanted = data.pop("support_offline", False)
        register = registers.create_register(data)
        return "created", register.id if wanted else None
    before = _state(found)
    registers.update_register(found, data)
    return "updated" if _state(found) != before else "unchanged", None


def _offline_refusals(created: dict[int, int]) -> dict[int, dict[str, str]]:
    """By line, why new registers could not have Support offline, as a single switch says it."""
    refused = {}
    for state in registers.offline_states(list(created)):
        refusal = registers.offline_refusal(state)
        if refusal is not None:
            refused[created[state.id]] = _row_problems(registers.refusal_error(refusal))
    return refused


def _row_problems(error: DomainError) -> dict[str, str]:
    """A refused row's errors by field, or the row's as a whole where the error names none."""
    return error.fields or {"row": error.message}


def _state(record) -> dict:
    """What an import may change of a record (its columns but the timestamps)."""
    values = audit.snapshot(record)
    values.pop("updated_at", None)
    if isinstance(record, Register):
        database = record.offline_database
        values["offline_database_active"] = database.active if database else None
    return values


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Store):
        return value.store_number
    return getattr(value, "name", value)
