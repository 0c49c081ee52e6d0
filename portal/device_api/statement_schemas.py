"""JSON shapes of the shift statements registers send when they close a shift."""

from decimal import Decimal

import marshmallow as ma

from portal.core.api import DecimalString
from portal.device_api.schemas import MAX_INT
from portal.transactions.models import STATEMENT_STATES, TRANSACTION_KINDS
from portal.transactions.statements import ACCEPTED, DUPLICATE

LIMIT = Decimal(10) ** 14
SHA256 = ma.validate.Regexp(r"^[0-9a-f]{64}$", error="A SHA-256 in 64 lowercase hex digits.")


def _money(value: Decimal) -> None:
    if value.as_tuple().exponent < -4:
        raise ma.ValidationError("At most 4 decimals.")
    if abs(value) >= LIMIT:
        raise ma.ValidationError("Less than 10^14 in size.")


def _at_most_50(value: dict) -> None:
    if len(value) > 50:
        raise ma.ValidationError("At most 50 payment methods.")


def _money_field(**kwargs) -> DecimalString:
    return DecimalString(validate=_money, metadata={"example": "512.40"}, **kwargs)


CountsSchema = ma.Schema.from_dict(
    {
        kind: ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0, max=MAX_INT))
        for kind in TRANSACTION_KINDS
    },
    name="StatementCounts",
)
TotalsSchema = ma.Schema.from_dict(
    {kind: _money_field() for kind in TRANSACTION_KINDS}, name="StatementTotals"
)


class DeviceStatementSchema(ma.Schema):
    """A register's shift statement (its Z report), money as decimal strings."""

    register = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=30), metadata={"example": "HOUSTON-1"}
    )
    shift_id = ma.fields.String(
        required=True,
        validate=[ma.validate.Length(min=1, max=60), ma.validate.Regexp(r"\S")],
        metadata={"example": "2026-11-20-1"},
    )
    opened_at = ma.fields.AwareDateTime(required=True, metadata={"description": "With its offset"})
    closed_at = ma.fields.AwareDateTime(required=True, metadata={"description": "With its offset"})
    first_sequence = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=1, max=2**53)
    )
    last_sequence = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(min=1, max=2**53)
    )
    counts = ma.fields.Nested(
        CountsSchema,
        required=True,
        metadata={"example": {"sale": 38, "return": 1, "void": 1}},
    )
    totals = ma.fields.Nested(
        TotalsSchema,
        required=True,
        metadata={"example": {"sale": "512.40", "return": "-12.00", "void": "0.00"}},
    )
    payments = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=1, max=30)),
        values=_money_field(),
        required=True,
        validate=_at_most_50,
        metadata={"example": {"cash": "300.40", "card": "200.00"}, "maxProperties": 50},
    )
    previous_hash = ma.fields.String(
        required=True,
        allow_none=True,
        validate=SHA256,
        metadata={
            "description": "statement_hash of the register's previous statement; null for its first"
        },
    )
    sales_digest = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=SHA256,
        metadata={
            "description": "Optional: SHA-256 of the shift's sales' content hashes in sequence "
            "order, one a line"
        },
    )


class StatementReceiptSchema(ma.Schema):
    """How HQ took the statement, and where it stands against the sales received so far."""

    statement = ma.fields.Integer(attribute="statement.id")
    status = ma.fields.String(metadata={"enum": [ACCEPTED, DUPLICATE]})
    statement_hash = ma.fields.String(
        attribute="statement.statement_hash",
        metadata={"description": "Send it as previous_hash with the next statement"},
    )
    state = ma.fields.String(attribute="statement.state", metadata={"enum": list(STATEMENT_STATES)})
