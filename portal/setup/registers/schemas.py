"""JSON shapes of registers."""

import marshmallow as ma

from portal.core.api import ListArgsSchema, page_schema
from portal.core.arguments import StrictBoolean
from portal.setup.channels.schemas import Reference


class OfflineDatabaseSchema(ma.Schema):
    """The offline database a register keeps while it supports offline."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True)
    active = ma.fields.Boolean(dump_only=True)
    channel_data_group = Reference(dump_only=True)


class RegisterSchema(ma.Schema):
    """A register, its Support offline flag and the offline database that follows from it."""

    register_number = ma.fields.String(required=True, metadata={"example": "HOUSTON-1"})
    store = Reference(
        "store_number", required=True, allow_none=False, metadata={"description": "Store number"}
    )
    support_offline = StrictBoolean(
        metadata={"description": "On creates or reactivates its offline database; off deactivates"}
    )
    offline_profile = Reference(
        metadata={"description": "Offline profile name; null falls back to the store's"}
    )
    effective_offline_profile = Reference(
        dump_only=True, metadata={"description": "Its own offline profile, else its store's"}
    )
    active = StrictBoolean()
    offline_database = ma.fields.Nested(OfflineDatabaseSchema, dump_only=True, allow_none=True)


class RegisterUpdateSchema(RegisterSchema):
    """A register's fields to change; its own class so the OpenAPI document names it apart."""


class RegisterListArgsSchema(ListArgsSchema):
    """List arguments of registers, with the store filter."""

    store = ma.fields.String(metadata={"description": "Store number"})


RegisterPageSchema = page_schema(RegisterSchema, "RegisterPage")
