"""JSON shapes of stores."""

import marshmallow as ma

from portal.core.api import page_schema
from portal.setup.channels.schemas import ChannelDatabaseSchema, Reference


class StoreSchema(ma.Schema):
    """A store, its settings and the numbers of its registers."""

    store_number = ma.fields.String(required=True, metadata={"example": "HOUSTON"})
    name = ma.fields.String(required=True, metadata={"example": "Houston Galleria"})
    currency = ma.fields.String(required=True, metadata={"example": "USD"})
    tax_group = ma.fields.String(required=True, metadata={"example": "TX"})
    time_zone = ma.fields.String(required=True, metadata={"example": "America/Chicago"})
    channel_data_group = Reference(metadata={"description": "Channel data group name"})
    offline_profile = Reference(
        metadata={"description": "Default offline profile name of its registers"}
    )
    price_group = ma.fields.String(allow_none=True)
    assortment = ma.fields.String(allow_none=True)
    channel_database = ma.fields.Pluck(ChannelDatabaseSchema, "id", dump_only=True, allow_none=True)
    registers = ma.fields.List(
        Reference("register_number", allow_none=False),
        dump_only=True,
        metadata={"description": "Numbers of the store's registers"},
    )
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class StoreUpdateSchema(StoreSchema):
    """A store's fields to change; its own class so the OpenAPI document names it apart."""


StorePageSchema = page_schema(StoreSchema, "StorePage")
