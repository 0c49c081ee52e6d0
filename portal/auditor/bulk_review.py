"""Reviewing many at once: the ids chosen on a list, or every row its filter matches."""

from portal.auditor import reviews
from portal.auditor.anomaly_queries import anomalies_query
from portal.auditor.models import SUBJECT_ANOMALY, SUBJECT_TRANSACTION, Anomaly
from portal.auditor.reviews import MAX_BULK
from portal.auditor.transaction_queries import transactions_query
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.transactions.models import PosTransaction

_QUERIES = {SUBJECT_TRANSACTION: transactions_query, SUBJECT_ANOMALY: anomalies_query}
_MODELS = {SUBJECT_TRANSACTION: PosTransaction, SUBJECT_ANOMALY: Anomaly}


def matching_ids(subject: str, filters: dict) -> list[int]:
    """The ids a list's filter matches, newest first; refused past MAX_BULK."""
    model = _MODELS[subject]
    ids = list(
        db.session.scalars(
            _QUERIES[subject](filters).with_only_columns(model.id).limit(MAX_BULK + 1)
        )
    )
    if len(ids) > MAX_BULK:
        raise ValidationFailed(
            f"The filter matches more than {MAX_BULK}; narrow it to review them in one step.",
            {"filter": f"Matches more than {MAX_BULK}."},
        )
    return ids


def review(
    subject: str,
    status: str,
    comment: str,
    ids: list[int] | None = None,
    filters: dict | None = None,
    resolve_anomalies: bool = False,
) -> dict:
    """Review the ids, or every row the filter matches; what was reviewed."""
    if (ids is None) == (filters is None):
        message = "Give either ids or a filter."
        raise ValidationFailed(message, {"ids": message, "filter": message})
    chosen = ids if ids is not None else matching_ids(subject, filters)
    entries = reviews.review_many(subject, chosen, status, comment)
    resolved = 0
    if subject == SUBJECT_TRANSACTION and resolve_anomalies:
        resolved = reviews.resolve_anomalies_of(chosen, comment.strip())
    return {
        "reviewed": len(entries),
        "ids": [entry.subject_id for entry in entries],
        "anomalies_resolved": resolved,
    }
