"""Operations: one bulk change of many records, recorded once with its counts and refusals.

An operation is an audit trail record of its own: the audit entries of the records it changed
point to it, so the trail shows one change of 40,000 registers as one line that opens on its
entries. Large operations run in a worker; the row is what pages and the API read for progress.
"""

from contextlib import contextmanager
from typing import Any

from flask import g

from portal.audit.models import DONE, PENDING, Operation
from portal.audit.services import current_actor
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.models import utcnow

# Refusals kept on the row; the count still says how many there were.
MAX_KEPT_REFUSALS = 1000


def start(kind: str, entity_type: str, params: dict[str, Any], total: int) -> Operation:
    """Record a new operation by the current actor (flushed, not committed)."""
    actor, source = current_actor()
    operation = Operation(
        kind=kind,
        entity_type=entity_type,
        params=params,
        total=total,
        actor=actor,
        source=source,
        status=PENDING,
        refusals=[],
    )
    db.session.add(operation)
    db.session.flush()
    return operation


def get_operation(operation_id: int) -> Operation:
    """The operation with this id, or NotFound."""
    operation = db.session.get(Operation, operation_id)
    if operation is None:
        raise NotFound(f"Operation {operation_id} does not exist.")
    return operation


@contextmanager
def recording(operation: Operation):
    """Within the block, every audit entry recorded belongs to `operation`."""
    previous = g.get("audit_operation_id")
    g.audit_operation_id = operation.id
    try:
        yield operation
    finally:
        g.audit_operation_id = previous


def add_refusal(operation: Operation, key: str, reason: str) -> None:
    """Count a record the operation left alone, and keep why (the first ones)."""
    operation.refused += 1
    if len(operation.refusals) < MAX_KEPT_REFUSALS:
        operation.refusals = [*operation.refusals, {"key": key, "reason": reason}]


def finish(operation: Operation, status: str = DONE, message: str = "") -> None:
    """Close the operation as done (or failed, saying why)."""
    operation.status = status
    operation.message = message[:500]
    operation.finished_at = utcnow()
    if status == DONE:
        operation.processed = operation.total
    db.session.flush()
