"""JSON shapes of the auditors' read API of received transactions (not the device upload)."""

from datetime import date, datetime

import marshmallow as ma

from portal.auditor.anomaly_schemas import AnomalySchema, ReviewSchema
from portal.auditor.models import ANOMALY_KINDS, REVIEW_STATUSES
from portal.core.api import DecimalString, ListArgsSchema, page_schema
from portal.transactions.models import TRANSACTION_KINDS


def money() -> DecimalString:
    """An amount or quantity as HQ stores it: exact, four places."""
    return DecimalString(places=4)


class DayOrInstant(ma.fields.Field):
    """A day ("2026-11-20", the whole UTC day) or an instant with its UTC offset."""

    default_error_messages = {
        "invalid": "A date (2026-11-20) or ISO 8601 with the UTC offset (2026-11-20T14:03:11Z)."
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        if instant.utcoffset() is None:
            raise self.make_error("invalid")
        return instant


class ReceivedTransactionListArgsSchema(ListArgsSchema):
    """Filters of the transaction list; all optional and combined."""

    store = ma.fields.String(metadata={"description": "Store number", "example": "HOUSTON"})
    register = ma.fields.String(metadata={"description": "Register number", "example": "HOUSTON-1"})
    date_from = DayOrInstant(
        metadata={"type": "string", "description": "Made at or after (a date: from its start)"}
    )
    date_to = DayOrInstant(
        metadata={"type": "string", "description": "Made at or before (a date: to its end)"}
    )
    offline = ma.fields.Boolean()
    staff = ma.fields.String(metadata={"example": "000160"})
    min_total = DecimalString()
    max_total = DecimalString()
    review_status = ma.fields.String(validate=ma.validate.OneOf(REVIEW_STATUSES))
    anomaly = ma.fields.String(
        validate=ma.validate.OneOf(ANOMALY_KINDS),
        metadata={"description": "Only transactions with an anomaly of this kind"},
    )
    kind = ma.fields.String(validate=ma.validate.OneOf(TRANSACTION_KINDS))


class ReceivedTransactionSchema(ma.Schema):
    """A received transaction as the register recorded it, and where auditors stand with it."""

    id = ma.fields.Integer()
    transaction_id = ma.fields.String(metadata={"description": "The register's UUID"})
    store = ma.fields.String(attribute="store.store_number", metadata={"example": "HOUSTON"})
    register = ma.fields.String(
        attribute="register.register_number", metadata={"example": "HOUSTON-1"}
    )
    sequence = ma.fields.Integer()
    receipt_number = ma.fields.String()
    staff = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": list(TRANSACTION_KINDS)})
    created_at = ma.fields.DateTime(metadata={"description": "When the register made it (UTC)"})
    utc_offset_minutes = ma.fields.Integer(metadata={"description": "The register's UTC offset"})
    offline = ma.fields.Boolean()
    offline_since = ma.fields.DateTime(allow_none=True)
    total = money()
    received_at = ma.fields.DateTime(metadata={"description": "When HQ stored it"})
    upload_session = ma.fields.Integer(attribute="upload_session_id")
    review_status = ma.fields.String(metadata={"enum": list(REVIEW_STATUSES)})


ReceivedTransactionPageSchema = page_schema(ReceivedTransactionSchema, "ReceivedTransactionPage")


class ReceivedLineSchema(ma.Schema):
    """One line of a received transaction."""

    line_number = ma.fields.Integer()
    product = ma.fields.String()
    quantity = money()
    unit_price = money()
    discount = money()
    tax_code = ma.fields.String()
    tax_amount = money()
    price_override = ma.fields.Boolean()


class ReceivedPaymentSchema(ma.Schema):
    """One tender of a received transaction."""

    line_number = ma.fields.Integer()
    method = ma.fields.String()
    amount = money()


class KeptConflictSchema(ma.Schema):
    """Other content that came later for the same transaction id, kept aside."""

    id = ma.fields.Integer()
    upload_session = ma.fields.Integer(attribute="upload_session_id")
    content_sha256 = ma.fields.String()
    received_at = ma.fields.DateTime()
    payload = ma.fields.Dict(metadata={"description": "The content as it came (canonical form)"})


class ReceivedTransactionDetailSchema(ReceivedTransactionSchema):
    """A transaction with everything an auditor needs to judge it."""

    content_sha256 = ma.fields.String()
    received_after_seconds = ma.fields.Integer(
        metadata={"description": "received_at − created_at: how long it took to reach HQ"}
    )
    offline_minutes = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "created_at − offline_since: how long the register was offline"},
    )
    lines = ma.fields.List(ma.fields.Nested(ReceivedLineSchema))
    payments = ma.fields.List(ma.fields.Nested(ReceivedPaymentSchema))
    anomalies = ma.fields.List(ma.fields.Nested(AnomalySchema))
    conflicts = ma.fields.List(ma.fields.Nested(KeptConflictSchema))
    reviews = ma.fields.List(ma.fields.Nested(ReviewSchema))
