"""JSON shapes of the auditors' shift statements: their list's filters and each statement."""

import marshmallow as ma

from portal.core.api import DecimalString, ListArgsSchema, page_schema
from portal.transactions.models import STATEMENT_STATES


class StatementListArgsSchema(ListArgsSchema):
    """Filters of the statement list; all optional."""

    register = ma.fields.String(
        validate=ma.validate.Length(max=30),
        metadata={"description": "Register number", "example": "HOUSTON-1"},
    )
    store = ma.fields.String(
        validate=ma.validate.Length(max=30),
        metadata={"description": "Store number", "example": "HOUSTON"},
    )
    state = ma.fields.String(validate=ma.validate.OneOf(STATEMENT_STATES))


class ShiftStatementSchema(ma.Schema):
    """A register's shift statement and where it stands against the sales received."""

    id = ma.fields.Integer()
    register = ma.fields.String(attribute="register.register_number")
    store = ma.fields.String(attribute="store.store_number")
    shift_id = ma.fields.String()
    opened_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime()
    business_day = ma.fields.Date(metadata={"description": "The shop's day the shift opened"})
    first_sequence = ma.fields.Integer()
    last_sequence = ma.fields.Integer()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    totals = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    payments = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    total = DecimalString(metadata={"description": "What the statement says was taken"})
    received_total = DecimalString(metadata={"description": "Of the sales received in its range"})
    unaccounted = DecimalString(metadata={"description": "total less received_total"})
    state = ma.fields.String(metadata={"enum": list(STATEMENT_STATES)})
    chain_broken = ma.fields.Boolean(
        metadata={"description": "It names a previous statement HQ does not have before it"}
    )
    missing = ma.fields.List(
        ma.fields.Integer(), metadata={"description": "Sequences not received (at most 100)"}
    )
    missing_count = ma.fields.Integer()
    differences = ma.fields.Dict(
        metadata={
            "description": 'Stated against received, e.g. {"payments": {"cash": {"stated": '
            '"300.40", "received": "290.40", "difference": "10.00"}}}'
        }
    )
    statement_hash = ma.fields.String()
    previous_hash = ma.fields.String(allow_none=True)
    received_at = ma.fields.DateTime()
    reconciled_at = ma.fields.DateTime(allow_none=True)


StatementPageSchema = page_schema(ShiftStatementSchema, "ShiftStatementPage")
