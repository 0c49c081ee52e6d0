"""Bulk changes: the selection, the preview (dry run), and the operation that makes the change.

A bulk change names its records by filter or by list, and the fields to set. The preview counts
what would change, stay or be refused (with reasons) without writing; the change itself is one
operation of the audit trail, made here at once or, past `BULK_TASK_THRESHOLD` records, by a
worker.

An operation is all or nothing: its records are read, checked and written for the whole
selection in one transaction (a few statements, whatever its size: 40,000 registers take
seconds), committed with the operation's counts. A worker lost or a statement failing mid-way
leaves no record changed and the operation pending or running; the task, acknowledged only
once it ends, is handed to another worker, which makes the whole change afresh. A rule refusing
the change (a name taken meanwhile) leaves the operation failed, saying why, and nothing
changed.
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
    changed, unchanged, refusals = rules.plan(ids, resolved)
    result.changed, result.unchanged = len(changed), unchanged
    for key, reason in refusals:
        _refuse(result, key, reason)
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


def execute(operation_id: int, started: Callable[[], Any] = lambda: None) -> Operation:
    """Make an operation's whole change, calling `started` once it is marked running."""
    operation = operations.get_operation(operation_id)
    if operation.finished:
        return operation
    rules = spec(operation.kind.split(".")[0])
    set_actor(operation.actor, operation.source)
    resolved = rules.resolve_change(operation.params["set"])
    operation.status = RUNNING
    started()
    ids = operation.params["ids"]
    with operations.recording(operation):
        changed, unchanged, refusals = rules.plan(ids, resolved)
        rules.apply(changed, resolved)
    operation.changed, operation.unchanged = len(changed), unchanged
    for key, reason in refusals:
        operations.add_refusal(operation, key, reason)
    for _ in range(len(ids) - len(changed) - unchanged - len(refusals)):
        operations.add_refusal(operation, "?", "Deleted meanwhile.")
    operations.finish(operation)
    return operation


def _refuse(result: Preview, key: str, reason: str) -> None:
    result.refused += 1
    if len(result.refusals) < operations.MAX_KEPT_REFUSALS:
        result.refusals.append({"key": key, "reason": reason})
