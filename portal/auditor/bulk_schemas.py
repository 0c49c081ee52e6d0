"""JSON shapes of reviewing many at once: ids or a list's filter, one verdict and comment."""

import marshmallow as ma

from portal.auditor.anomaly_schemas import AnomalyListArgsSchema
from portal.auditor.models import REVIEW_ACTIONS
from portal.auditor.reviews import MAX_BULK
from portal.auditor.transaction_schemas import ReceivedTransactionListArgsSchema

# PostgreSQL's integer columns end here; a larger id must be a field error, not a crash.
MAX_INT = 2**31 - 1


class TransactionFilterSchema(ReceivedTransactionListArgsSchema):
    """The transaction list's filters, as `GET /transactions` takes them."""

    class Meta:
        exclude = ("limit", "cursor")


class AnomalyFilterSchema(AnomalyListArgsSchema):
    """The anomaly list's filters, as `GET /anomalies` takes them."""

    class Meta:
        exclude = ("limit", "cursor")


def _request_schema(filter_schema, name: str, doc: str, **extra) -> type[ma.Schema]:
    fields = {
        "ids": ma.fields.List(
            ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_INT)),
            validate=ma.validate.Length(min=1, max=MAX_BULK),
            metadata={"description": "These; or give `filter`"},
        ),
        "filter": ma.fields.Nested(
            filter_schema,
            metadata={"description": f"Every one the list's filter matches (at most {MAX_BULK})"},
        ),
        "status": ma.fields.String(required=True, validate=ma.validate.OneOf(REVIEW_ACTIONS)),
        "comment": ma.fields.String(
            load_default="", metadata={"description": "At most 2000 characters"}
        ),
        **extra,
    }
    schema = ma.Schema.from_dict(fields, name=name)
    schema.__doc__ = doc
    return schema


TransactionBulkReviewSchema = _request_schema(
    TransactionFilterSchema,
    "TransactionBulkReview",
    "One verdict on many transactions: `ids` or `filter`, not both.",
    resolve_anomalies=ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Resolve their open anomalies too, with the same comment"},
    ),
)
AnomalyBulkReviewSchema = _request_schema(
    AnomalyFilterSchema,
    "AnomalyBulkReview",
    "One verdict on many anomalies: `ids` or `filter`, not both.",
)


class BulkReviewResultSchema(ma.Schema):
    """What one bulk review recorded: a review and an audit line for each."""

    reviewed = ma.fields.Integer()
    ids = ma.fields.List(ma.fields.Integer(), metadata={"description": "Those reviewed"})
    anomalies_resolved = ma.fields.Integer(
        metadata={"description": "Open anomalies of the transactions resolved with them"}
    )
