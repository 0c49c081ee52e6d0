"""JSON shapes of bulk changes, their operations and CSV imports."""

import marshmallow as ma

from portal.audit.models import DONE, FAILED, PENDING, RUNNING
from portal.core.arguments import StrictBoolean

# Numbers one request may list; a larger selection goes by filter.
MAX_LISTED = 50_000


class RegisterFilterSchema(ma.Schema):
    """Registers matching every filter given."""

    store = ma.fields.String(metadata={"description": "Store number"})
    channel_data_group = ma.fields.String(metadata={"description": "The store's group name"})
    offline_profile = ma.fields.String(
        metadata={"description": "Offline profile in effect: the register's own, else its store's"}
    )
    support_offline = StrictBoolean()
    activated = StrictBoolean(
        metadata={"description": "Whether its offline database's device has activated"}
    )
    active = StrictBoolean()
    q = ma.fields.String(metadata={"description": "Search text in the register number"})


class StoreFilterSchema(ma.Schema):
    """Stores matching every filter given."""

    channel_data_group = ma.fields.String(
        metadata={"description": "Channel data group name; `-` for stores without one"}
    )
    offline_profile = ma.fields.String(
        metadata={"description": "Default offline profile name; `-` for stores without one"}
    )
    q = ma.fields.String(metadata={"description": "Search text in the store number and name"})


class RegisterSetSchema(ma.Schema):
    """The fields a bulk change sets on every selected register."""

    support_offline = StrictBoolean(
        metadata={"description": "On creates or reactivates offline databases; off deactivates"}
    )
    offline_profile = ma.fields.String(
        allow_none=True, metadata={"description": "Offline profile name; null: the store's"}
    )
    active = StrictBoolean()


class StoreSetSchema(ma.Schema):
    """The fields a bulk change sets on every selected store."""

    channel_data_group = ma.fields.String(allow_none=True)
    offline_profile = ma.fields.String(allow_none=True)
    currency = ma.fields.String()
    tax_group = ma.fields.String()
    time_zone = ma.fields.String()
    price_group = ma.fields.String(allow_none=True)
    assortment = ma.fields.String(allow_none=True)


def _numbers(description: str) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(),
        validate=ma.validate.Length(min=1, max=MAX_LISTED),
        metadata={"description": description},
    )


class _BulkSchema(ma.Schema):
    dry_run = StrictBoolean(
        load_default=False, metadata={"description": "Only say what would change"}
    )
    confirm_activated = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Turn Support offline off even for registers whose device has "
            "activated (409 without it)"
        },
    )


class RegisterBulkSchema(_BulkSchema):
    """A bulk change of registers: a filter or a list of numbers, and the fields to set."""

    filter = ma.fields.Nested(RegisterFilterSchema)
    register_numbers = _numbers("The registers to change, instead of a filter")
    set = ma.fields.Nested(RegisterSetSchema, required=True)


class StoreBulkSchema(_BulkSchema):
    """A bulk change of stores: a filter or a list of numbers, and the fields to set."""

    filter = ma.fields.Nested(StoreFilterSchema)
    store_numbers = _numbers("The stores to change, instead of a filter")
    set = ma.fields.Nested(StoreSetSchema, required=True)


class RefusalSchema(ma.Schema):
    """A record a bulk change left alone, and why."""

    key = ma.fields.String(required=True, metadata={"description": "Its number"})
    reason = ma.fields.String(required=True)


class OperationSchema(ma.Schema):
    """A bulk change as recorded in the audit trail: where it stands and what it did."""

    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"example": "registers.bulk"})
    status = ma.fields.String(metadata={"enum": [PENDING, RUNNING, DONE, FAILED]})
    progress = ma.fields.Float(metadata={"description": "Share processed, 0 to 1"})
    total = ma.fields.Integer()
    processed = ma.fields.Integer()
    changed = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    refused = ma.fields.Integer()
    refusals = ma.fields.List(
        ma.fields.Nested(RefusalSchema), metadata={"description": "The first 1,000 refusals"}
    )
    message = ma.fields.String()
    actor = ma.fields.String()
    created_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)


class BulkResultSchema(ma.Schema):
    """What a bulk change did, or would do (a dry run), and its operation."""

    dry_run = ma.fields.Boolean(required=True)
    selected = ma.fields.Integer(required=True)
    changed = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    refused = ma.fields.Integer(required=True)
    refusals = ma.fields.List(ma.fields.Nested(RefusalSchema), required=True)
    activated = ma.fields.Integer(
        metadata={"description": "Registers losing Support offline whose device has activated"}
    )
    operation = ma.fields.Nested(OperationSchema, allow_none=True, required=True)


class ImportArgsSchema(ma.Schema):
    """Query arguments of a CSV import."""

    dry_run = ma.fields.Boolean(
        load_default=False, metadata={"description": "Check every row and save nothing"}
    )


class ImportResultSchema(ma.Schema):
    """What a CSV import did (or, a dry run, would do)."""

    dry_run = ma.fields.Boolean(required=True)
    rows = ma.fields.Integer(required=True)
    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    operation = ma.fields.Integer(allow_none=True, required=True)
