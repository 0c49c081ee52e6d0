"""Celery task of bulk changes: a large operation made by a worker, chunk by chunk."""

from celery import shared_task

from portal.audit import operations
from portal.audit.models import FAILED
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.setup.bulk import runner


@shared_task(name=runner.TASK, acks_late=True)
def run_operation(operation_id: int) -> str:
    """Make an operation's change, committing each chunk so its progress shows; its status."""
    try:
        operation = runner.execute(operation_id, checkpoint=db.session.commit)
    except DomainError as error:
        # A rule refused the change of a whole chunk: what was committed stays, said so.
        db.session.rollback()
        operation = operations.get_operation(operation_id)
        operations.finish(operation, FAILED, error.message)
    db.session.commit()
    return operation.status
