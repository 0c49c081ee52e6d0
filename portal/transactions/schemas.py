"""JSON shapes of the transaction upload, for the OpenAPI document and the field checks.

The upload is not loaded through these schemas: `validation` reads the body itself, so that
money stays exact and one bad transaction is reported without stopping its neighbours. The
field names it accepts are the ones declared here, so the document and the checks agree.
"""

import marshmallow as ma

DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"


def _decimal(description: str, required: bool = True) -> ma.fields.String:
    """A money or quantity field: decimal text (a JSON number is accepted too)."""
    return ma.fields.String(
        required=required,
        metadata={
            "description": description + " Decimal text, at most 4 decimal places; a JSON "
            "number is accepted too and read exactly, never as a float.",
            "pattern": DECIMAL_TEXT,
            "example": "4.99",
        },
    )


class TransactionLineSchema(ma.Schema):
    """One sold (or, with a negative quantity, returned) product."""

    product = ma.fields.String(required=True, metadata={"example": "P-1001"})
    quantity = _decimal("Units sold; negative for a return, never zero.")
    unit_price = _decimal("Price of one unit before tax; not negative.")
    discount = _decimal(
        "Taken off quantity × unit price; between 0 and that amount (default 0).", required=False
    )
    tax_code = ma.fields.String(metadata={"example": "VAT20"})
    tax_amount = _decimal("Tax added to the line (default 0).", required=False)
    price_override = ma.fields.Boolean(
        metadata={"description": "The cashier typed the price instead of the register's."},
        dump_default=False,
    )


class TransactionPaymentSchema(ma.Schema):
    """One tender: what the customer paid with, net of change given."""

    method = ma.fields.String(required=True, metadata={"example": "cash"})
    amount = _decimal("Amount kept by the store (a refund is negative).")


class TransactionSchema(ma.Schema):
    """A sale as the register recorded it."""

    transaction_id = ma.fields.UUID(required=True, metadata={"description": "Globally unique."})
    register = ma.fields.String(required=True, metadata={"example": "HOUSTON-1"})
    sequence = ma.fields.Integer(
        required=True, metadata={"description": "The register's own counter, from 1; no gaps."}
    )
    receipt_number = ma.fields.String(required=True, metadata={"example": "HOUSTON-1-000042"})
    staff = ma.fields.String(required=True, metadata={"example": "000160"})
    created_at = ma.fields.AwareDateTime(
        required=True,
        metadata={"description": "ISO 8601 with the register's UTC offset, which is kept."},
    )
    offline = ma.fields.Boolean(required=True)
    offline_since = ma.fields.AwareDateTime(
        metadata={
            "description": "Made offline: since when the register had been offline, with its "
            "UTC offset; not after created_at."
        }
    )
    kind = ma.fields.String(
        metadata={
            "enum": ["sale", "return", "void"],
            "description": "sale (the default), return (money back) or void (cancelled).",
        }
    )
    lines = ma.fields.List(ma.fields.Nested(TransactionLineSchema), required=True)
    payments = ma.fields.List(ma.fields.Nested(TransactionPaymentSchema), required=True)
    total = _decimal(
        "Sum of the lines' quantity × unit price − discount + tax (within 0.01 per line for "
        "rounding); the payments must add up to it exactly."
    )


class UploadSchema(ma.Schema):
    """A batch of transactions; unknown fields at any level are reported, never ignored."""

    transactions = ma.fields.List(
        ma.fields.Nested(TransactionSchema),
        required=True,
        metadata={"description": "At most 500 per batch; the body at most 5 MB."},
    )


class UploadCountsSchema(ma.Schema):
    """How many transactions of the batch had each outcome."""

    accepted = ma.fields.Integer(required=True)
    duplicate = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    conflict = ma.fields.Integer(required=True)


class TransactionResultSchema(ma.Schema):
    """The outcome of one transaction, in the order of the batch."""

    transaction_id = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(
        required=True,
        metadata={
            "enum": ["accepted", "duplicate", "conflict", "rejected"],
            "description": "accepted: stored now; duplicate: stored before with the same "
            "content; conflict: stored before with other content, this one kept aside for an "
            "auditor; rejected: not stored, see errors.",
        },
    )
    errors = ma.fields.Dict(
        required=True,
        metadata={"description": 'Messages by field path, e.g. "lines[0].quantity".'},
    )


class UploadResultSchema(ma.Schema):
    """The upload session the batch became, and every transaction's outcome."""

    upload_session = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"example": "applied"})
    counts = ma.fields.Nested(UploadCountsSchema, required=True)
    results = ma.fields.List(ma.fields.Nested(TransactionResultSchema), required=True)


def field_names(schema: type[ma.Schema]) -> frozenset[str]:
    """The names a schema declares: the only ones an upload may use at that level."""
    return frozenset(schema._declared_fields)
