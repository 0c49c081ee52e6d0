"""Celery tasks of the auditor workspace."""

from celery import shared_task

from portal.auditor import shifts_due
from portal.core.extensions import db
from portal.core.models import utcnow


@shared_task(name="auditor.statements_due", acks_late=True)
def statements_due() -> int:
    """Beat's hourly look for registers that sold but closed no shift; how many there are."""
    found = shifts_due.check(utcnow())
    db.session.commit()
    return found
