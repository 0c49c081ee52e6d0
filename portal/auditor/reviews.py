"""The review workflow: auditors mark transactions and anomalies, each step kept for good."""

import sqlalchemy as sa

from portal.audit import services as audit
from portal.auditor.models import (
    REVIEW_ACTIONS,
    REVIEW_OPEN,
    REVIEW_RESOLVED,
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
# One bulk review changes at most this many rows: more is one request holding the lock too long.
MAX_BULK = 5000
_MODELS = {SUBJECT_TRANSACTION: PosTransaction, SUBJECT_ANOMALY: Anomaly}
_NAMES = {SUBJECT_TRANSACTION: "Transaction", SUBJECT_ANOMALY: "Anomaly"}


def review(
    subject: str, subject_id: int, status: str, comment: str = "", resolve_anomalies=False
) -> Review:
    """Record an auditor's verdict on a transaction or an anomaly and set its review status.

    Only the review status changes: a received transaction's content is never edited. With
    `resolve_anomalies`, a transaction's open anomalies are resolved too, each a review of its own.
    """
    entry = review_many(subject, [subject_id], status, comment)[0]
    if subject == SUBJECT_TRANSACTION and resolve_anomalies:
        resolve_anomalies_of([subject_id], entry.comment)
    return entry


def review_many(subject: str, ids: list[int], status: str, comment: str = "") -> list[Review]:
    """The same verdict on many transactions or anomalies: each its own review and audit line.

    All or nothing: an id that does not exist refuses the whole request.
    """
    comment = _checked(subject, status, comment)
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise ValidationFailed("Choose at least one to review.", {"ids": "Choose at least one."})
    if len(wanted) > MAX_BULK:
        raise ValidationFailed(
            f"At most {MAX_BULK} in one review; narrow the filter.",
            {"ids": f"At most {MAX_BULK}."},
        )
    model = _MODELS[subject]
    targets = {
        row.id: row for row in db.session.scalars(sa.select(model).where(model.id.in_(wanted)))
    }
    unknown = [n for n in wanted if n not in targets]
    if unknown:
        shown = ", ".join(str(n) for n in unknown[:10])
        if len(wanted) == 1:
            raise NotFound(f"{_NAMES[subject]} {shown} does not exist.")
        raise NotFound(f"{_NAMES[subject]}(s) {shown} do not exist; nothing was reviewed.")
    entries = [_record(subject, targets[n], status, comment) for n in wanted]
    db.session.flush()
    return entries


def open_anomalies(pos_transaction_id: int) -> list[Anomaly]:
    """A transaction's anomalies no auditor has looked at yet, which its review may resolve."""
    return list(
        db.session.scalars(
            sa.select(Anomaly)
            .where(
                Anomaly.pos_transaction_id == pos_transaction_id,
                Anomaly.review_status == REVIEW_OPEN,
            )
            .order_by(Anomaly.id)
        )
    )


def history(subject: str, subject_id: int) -> list[Review]:
    """Every review of a transaction or an anomaly, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Review)
            .where(Review.subject == subject, Review.subject_id == subject_id)
            .order_by(Review.id)
        )
    )


def _checked(subject: str, status: str, comment: str) -> str:
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
    return comment


def _record(subject: str, target, status: str, comment: str) -> Review:
    before = target.review_status
    target.review_status = status
    actor, _ = audit.current_actor()
    entry = Review(
        subject=subject, subject_id=target.id, status=status, comment=comment, actor=actor
    )
    db.session.add(entry)
    # Recorded even when the status stays: a second comment is an action of its own.
    audit.record(
        "review",
        subject,
        str(target.id),
        after={"status": status, "previous_status": before, "comment": comment},
    )
    return entry


def resolve_anomalies_of(transaction_ids: list[int], comment: str) -> int:
    """Resolve the open anomalies of reviewed transactions, each a review of its own; how many."""
    anomalies = db.session.scalars(
        sa.select(Anomaly)
        .where(
            Anomaly.pos_transaction_id.in_(transaction_ids),
            Anomaly.review_status == REVIEW_OPEN,
        )
        .order_by(Anomaly.id)
    )
    resolved = 0
    for anomaly in anomalies:
        why = comment or f"Resolved with the review of transaction {anomaly.pos_transaction_id}."
        _record(SUBJECT_ANOMALY, anomaly, REVIEW_RESOLVED, why)
        resolved += 1
    db.session.flush()
    return resolved
