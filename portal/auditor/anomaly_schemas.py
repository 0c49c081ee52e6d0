"""JSON shapes of the auditor API: anomalies, reviews, and the filters of their lists."""

import marshmallow as ma

from portal.auditor.models import ANOMALY_KINDS, REVIEW_ACTIONS, REVIEW_STATUSES
from portal.core.api import ListArgsSchema, page_schema


class AnomalyListArgsSchema(ListArgsSchema):
    """Filters of the anomaly list; all optional."""

    kind = ma.fields.String(validate=ma.validate.OneOf(ANOMALY_KINDS))
    store = ma.fields.String(metadata={"description": "Store number", "example": "HOUSTON"})
    register = ma.fields.String(metadata={"description": "Register number", "example": "HOUSTON-1"})
    review_status = ma.fields.String(validate=ma.validate.OneOf(REVIEW_STATUSES))
    cleared = ma.fields.Boolean(
        metadata={"description": "true: answered by later data (e.g. the gap filled); false: not"}
    )


class AnomalySchema(ma.Schema):
    """One finding about a register's transactions."""

    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": list(ANOMALY_KINDS)})
    store = ma.fields.String(attribute="store.store_number", metadata={"example": "HOUSTON"})
    register = ma.fields.String(
        attribute="register.register_number", metadata={"example": "HOUSTON-1"}
    )
    transaction = ma.fields.Integer(
        attribute="pos_transaction_id",
        allow_none=True,
        metadata={"description": "Id of the transaction that showed it (GET /transactions/{id})"},
    )
    message = ma.fields.String()
    detail = ma.fields.Dict(
        metadata={"description": 'What the rule compared, e.g. {"missing": [6, 7]}'}
    )
    detected_at = ma.fields.DateTime()
    cleared_at = ma.fields.DateTime(allow_none=True)
    review_status = ma.fields.String(metadata={"enum": list(REVIEW_STATUSES)})


AnomalyPageSchema = page_schema(AnomalySchema, "AnomalyPage")


class ReviewRequestSchema(ma.Schema):
    """An auditor's verdict; flagged and resolved need a comment saying why."""

    status = ma.fields.String(required=True, validate=ma.validate.OneOf(REVIEW_ACTIONS))
    comment = ma.fields.String(load_default="", metadata={"description": "At most 2000 characters"})


class TransactionReviewRequestSchema(ReviewRequestSchema):
    """A verdict on a transaction, which may resolve its open anomalies with it."""

    resolve_anomalies = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Resolve its open anomalies too, with the same comment"},
    )


class ReviewSchema(ma.Schema):
    """One recorded review, never edited."""

    id = ma.fields.Integer()
    subject = ma.fields.String(metadata={"enum": ["transaction", "anomaly"]})
    subject_id = ma.fields.Integer()
    status = ma.fields.String()
    comment = ma.fields.String()
    actor = ma.fields.String(metadata={"description": "Who reviewed (the user's email)"})
    created_at = ma.fields.DateTime()
