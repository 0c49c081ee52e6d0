"""Reviewing many at once on the transactions and anomalies pages: ticked rows or the filter."""

import sqlalchemy as sa
from flask import flash, request

from portal.auditor import bulk_review
from portal.auditor.forms import BulkReviewForm
from portal.core.errors import DomainError
from portal.core.extensions import db
from portal.core.web import show_form_error

# A list says exactly how many rows match up to this many, "more than" past it: counting a
# million rows on every view would cost more than the page.
COUNT_LIMIT = 1000
_NAMES = {"transaction": "transaction(s)", "anomaly": "anomaly(ies)"}


def matching(stmt: sa.Select) -> tuple[int, bool]:
    """How many rows the list's query matches, up to COUNT_LIMIT; and whether there are more."""
    rows = stmt.order_by(None).limit(COUNT_LIMIT + 1).subquery()
    counted = db.session.scalar(sa.select(sa.func.count()).select_from(rows))
    return min(counted, COUNT_LIMIT), counted > COUNT_LIMIT


def submit(subject: str, filters: dict, form: BulkReviewForm) -> bool:
    """Record the posted bulk review, committed; False with the refusal shown on the form."""
    if not form.validate_on_submit():
        return False
    ids = None if form.all_matching.data else request.form.getlist("ids", type=int)
    try:
        result = bulk_review.review(
            subject,
            form.status.data,
            form.comment.data or "",
            ids=ids,
            filters=filters if form.all_matching.data else None,
            resolve_anomalies=bool(form.resolve_anomalies.data),
        )
    except DomainError as error:
        show_form_error(form, error)
        return False
    db.session.commit()
    resolved = result["anomalies_resolved"]
    also = f"; {resolved} open anomaly(ies) resolved with them" if resolved else ""
    flash(f"{result['reviewed']} {_NAMES[subject]} marked {form.status.data}{also}.", "success")
    return True
