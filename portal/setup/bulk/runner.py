"""Bulk changes: the selection, the preview (dry run), and the operation that makes the change.

A bulk change names its records by filter or by list, and the fields to set. The preview counts
what would change, stay or be refused (with reasons) without writing; the change itself is one
operation of the audit trail, made here at once or, past `BULK_TASK_THRESHOLD` records, by a
worker that commits chunk by chunk so its progress shows.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from flask import current_app
from kombu.exceptions import OperationalError

from portal.audit import operations
from portal.audit.models import FAILED, RUNNING, Operation
from portal.audit.services import set_actor
from portal.core.errors import Conflict, ValidationFailed
from portal.core.extensions import db
from portal.setup.registers import bulk as registers_bulk
from portal.setup.stores import bulk as stores_bulk

KINDS: dict[str, ModuleType] = {"registers": registers_bulk, "stores": stores_bulk}
# Records loaded, checked and changed together: one commit each in a worker.
CHUNK = 1000
MISSING = "does not exist."
TASK = "setup.run_operation"


@dataclass
class Preview:
    """What a bulk change would do: counts, refusals with reasons, the records selected."""

    kind: str
    ids: list[int]
    changed: int = 0
    unchanged: int = 0
    refused: int = 0
    refusals: list[dict[str, str]] = field(default_factory=list)
    # Registers that would lose Support offline while their device has activated.
    activated: int = 0

    @property
    def selected(self) -> int:
        """Records named by the selection, found or not."""
        return self.changed + self.unchanged + self.refused


def spec(kind: str) -> ModuleType:
    """The records' own rules of a bulk change (`registers` or `stores`)."""
    return KINDS[kind]


def select(kind: str, selection: dict) -> tuple[list[int], list[str]]:
    """The ids selected by `filter` or by the list of numbers, and the numbers not found."""
    rules = spec(kind)
    filters, numbers = selection.get("filter"), selection.get(rules.KEY)
    if (filters is None) == (numbers is None):
        message = f"Select by filter or by {rules.KEY}, one of the two."
        raise ValidationFailed(message, {"filter": message})
    if filters is not None:
        return rules.select_ids(filters), []
    found = rules.ids_by_key(numbers)
    ids = list(dict.fromkeys(found[number] for number in numbers if number in found))
    missing = list(dict.fromkeys(str(number) for number in numbers if number not in found))
    return ids, missing


def preview(kind: str, selection: dict, change: dict) -> Preview:
    """The dry run: what the change would do to each selected record; nothing is written."""
    rules = spec(kind)
    resolved = rules.resolve_change(change)
    ids, missing = select(kind, selection)
    result = Preview(kind, ids)
    for number in missing:
        _refuse(result, number, f"{rules.ENTITY.capitalize()} {MISSING}")
    for part in _chunks(ids):
        records = rules.load(part)
        changed, unchanged, refusals = rules.plan(records, resolved)
        result.changed += len(changed)
        result.unchanged += len(unchanged)
        for record in records:
            if record.id in refusals:
                _refuse(result, rules.key_of(record), refusals[record.id])
    result.activated = rules.activated_among(ids, resolved)
    return result


def start(kind: str, selection: dict, change: dict, confirm_activated: bool = False) -> Operation:
    """Record the operation and make the change now, or hand it to a worker if it is large.

    Turning Support offline off for registers whose device has activated cuts those devices
    off: it needs `confirm_activated`.
    """
    rules = spec(kind)
    resolved = rules.resolve_change(change)
    ids, missing = select(kind, selection)
    activated = rules.activated_among(ids, resolved)
    if activated and not confirm_activated:
        message = (
            f"{activated} of the selected registers have an activated device that will stop "
            "receiving data; confirm to turn Support offline off for them too."
        )
        raise Conflict(message, {"confirm_activated": message})
    params = {"ids": ids, "set": change, "missing": len(missing)}
    operation = operations.start(f"{kind}.bulk", rules.ENTITY, params, len(ids) + len(missing))
    for number in missing:
        operations.add_refusal(operation, number, f"{rules.ENTITY.capitalize()} {MISSING}")
    operation.processed = len(missing)
    if len(ids) > current_app.config["BULK_TASK_THRESHOLD"]:
        # The worker reads the operation: it must be committed before the task can run.
        db.session.commit()
        queue(operation)
    else:
        execute(operation.id)
    return operation


def queue(operation: Operation) -> None:
    """Hand an operation to a worker; if the broker cannot be reached, the operation failed."""
    celery = current_app.extensions["celery"]
    try:
        celery.send_task(TASK, args=[operation.id], retry=False)
    except OperationalError as error:
        operations.finish(operation, FAILED, f"The task queue could not be reached: {error}")
        db.session.commit()


def execute(operation_id: int, checkpoint: Callable[[], Any] = lambda: None) -> Operation:
    """Make an operation's change chunk by chunk, calling `checkpoint` after each one."""
    operation = operations.get_operation(operation_id)
    if operation.finished:
        return operation
    rules = spec(operation.kind.split(".")[0])
    set_actor(operation.actor, operation.source)
    resolved = rules.resolve_change(operation.params["set"])
    operation.status = RUNNING
    # A worker lost mid-way hands the task on: the chunks it committed are not made again.
    done = operation.processed - operation.params.get("missing", 0)
    with operations.recording(operation):
        for part in _chunks(operation.params["ids"][done:]):
            records = rules.load(part)
            changed, unchanged, refusals = rules.plan(records, resolved)
            rules.apply(changed, resolved)
            operation.changed += len(changed)
            operation.unchanged += len(unchanged)
            for record in records:
                if record.id in refusals:
                    operations.add_refusal(operation, rules.key_of(record), refusals[record.id])
            for _ in range(len(part) - len(records)):
                operations.add_refusal(operation, "?", "Deleted meanwhile.")
            operation.processed += len(part)
            db.session.flush()
            checkpoint()
    operations.finish(operation)
    return operation


def _refuse(result: Preview, key: str, reason: str) -> None:
    result.refused += 1
    if len(result.refusals) < operations.MAX_KEPT_REFUSALS:
        result.refusals.append({"key": key, "reason": reason})


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
