"""Celery task of bulk changes: a large operation made by a worker, all or nothing."""

from celery import shared_task

from portal.audit import operations
from portal.audit.models import FAILED, Operation
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.setup.bulk import runner


@shared_task(name=runner.TASK, acks_late=True)
def run_operation(operation_id: int) -> str:
    """Make an operation's change in one transaction, once it shows as running; its status."""
    if db.session.get(Operation, operation_id) is None:
        # Its request was rolled back after queuing it: nothing to do.
        return "missing"
    try:
        operation = runner.execute(operation_id, started=db.session.commit)
    except DomainError as error:
        # A rule refused the change: nothing of it was committed, as the operation says.
        _failed(operation_id, error.message)
        return FAILED
    except Exception as error:
        # Not left `running` for ever: the page and the API say it stopped, and why.
        _failed(operation_id, f"Stopped by an error: {error}")
        raise
    db.session.commit()
    return operation.status


def _failed(operation_id: int, message: str) -> None:
    db.session.rollback()
    operation = operations.get_operation(operation_id)
    operations.finish(operation, FAILED, message)
    db.session.commit()
