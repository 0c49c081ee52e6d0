"""JSON shapes of the master data API: generic rows, bulk upserts and bulk deletes."""

import marshmallow as ma

from portal.core.api import ListArgsSchema
from portal.masterdata.services import MAX_ROWS

_LIMIT = ma.validate.Length(min=1, max=MAX_ROWS)


class RowListArgsSchema(ListArgsSchema):
    """Query arguments of a master data listing."""

    include_deleted = ma.fields.Boolean(
        load_default=False, metadata={"description": "Include tombstones (deleted rows)"}
    )


class RowPageSchema(ma.Schema):
    """A page of rows ordered by id: each its id, fields, `row_version` and `deleted` flag."""

    items = ma.fields.List(
        ma.fields.Dict(keys=ma.fields.String()),
        required=True,
        metadata={"example": [{"id": 7, "code": "VAT20", "row_version": 12, "deleted": False}]},
    )
    next = ma.fields.String(allow_none=True, required=True)


class BulkUpsertSchema(ma.Schema):
    """Rows to insert or update by natural key, all or nothing."""

    rows = ma.fields.List(
        ma.fields.Dict(keys=ma.fields.String()),
        required=True,
        validate=_LIMIT,
        metadata={
            "description": (
                f"1 to {MAX_ROWS} objects of field values; each holds the natural key. Decimals "
                'as strings ("4.99") keep their exact value; dates as YYYY-MM-DD.'
            ),
            "example": [{"product_number": "P-100", "name": "Espresso beans 1 kg"}],
        },
    )


class BulkUpsertResultSchema(ma.Schema):
    """What a bulk upsert did, and the change version its rows carry (null if none changed)."""

    inserted = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    version = ma.fields.Integer(allow_none=True, required=True)


class BulkDeleteSchema(ma.Schema):
    """Natural keys of rows to delete (tombstone), all or nothing."""

    keys = ma.fields.List(
        ma.fields.Raw(),
        required=True,
        validate=_LIMIT,
        metadata={
            "description": (
                f"1 to {MAX_ROWS} natural keys: objects of the key fields, or bare values when "
                "the key has one field. Keys of rows already deleted or never known count as 0."
            ),
            "example": [{"tax_code": "TX-STATE", "valid_from": "2024-01-01"}],
        },
    )


class BulkDeleteResultSchema(ma.Schema):
    """How many live rows a bulk delete turned into tombstones, and their change version."""

    deleted = ma.fields.Integer(required=True)
    version = ma.fields.Integer(allow_none=True, required=True)
