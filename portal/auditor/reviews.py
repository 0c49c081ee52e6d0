"""The review workflow: auditors mark transactions and anomalies, each step kept for good."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.auditor.models import (
    REVIEW_ACTIONS,
    REVIEW_SUBJECTS,
    SUBJECT_ANOMALY,
    SUBJECT_TRANSACTION,
    Anomaly,
    Review,
)
from portal.core.errors import NotFound, ValidationFailed
from portal.core.extensions import db
from portal.transactions.models import PosTransaction

MAX_COMMENT = 2000
_MODELS = {SUBJECT_TRANSACTION: PosTransaction, SUBJECT_ANOMALY: Anomaly}
_NAMES = {SUBJECT_TRANSACTION: "Transaction", SUBJECT_ANOMALY: "Anomaly"}


def review(subject: str, subject_id: int, status: str, comment: str = "") -> Review:
    """Record an auditor's verdict on a transaction or an anomaly and set its review status.

    Only the review status changes: a received transaction's content is never edited.
    """
    if subject not in REVIEW_SUBJECTS:
        raise ValidationFailed("Unknown review subject.", {"subject": ", ".join(REVIEW_SUBJECTS)})
    comment = (comment or "").strip()
    fields = {}
    if status not in REVIEW_ACTIONS:
        fields["status"] = f"One of {', '.join(REVIEW_ACTIONS)}."
    if len(comment) > MAX_COMMENT:
        fields["comment"] = f"At most {MAX_COMMENT} characters."
    if status in REVIEW_ACTIONS and status != "reviewed" and not comment:
        fields["comment"] = f"Say why it is {status}."
    if fields:
        raise ValidationFailed("The review is not valid.", fields)
    target = db.session.get(_MODELS[subject], subject_id)
    if target is None:
        raise NotFound(f"{_NAMES[subject]} {subject_id} does not exist.")
    before = target.review_status
    target.review_status = status
    actor, _ = audit.current_actor()
    entry = Review(
        subject=subject, subject_id=subject_id, status=status, comment=comment, actor=actor
    )
    db.session.add(entry)
    db.session.flush()
    # Recorded even when the status stays: a second comment is an action of its own.
    audit.record(
        "review",
        subject,
        str(subject_id),
        after={"status": status, "previous_status": before, "comment": comment},
    )
    return entry


def history(subject: str, subject_id: int) -> list[Review]:
    """Every review of a transaction or an anomaly, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Review)
            .where(Review.subject == subject, Review.subject_id == subject_id)
            .order_by(Review.id)
        )
    )
