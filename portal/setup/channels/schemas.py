"""JSON shapes of channel databases and channel data groups."""

import marshmallow as ma
import sqlalchemy as sa

from portal.core.api import ListArgsSchema, page_schema
from portal.core.extensions import db
from portal.setup.models import DATABASE_KINDS, ChannelDatabase, ChannelDataGroup


class Reference(ma.fields.String):
    """A related record, given and shown by its number or name (never its id); null for none."""

    def __init__(self, key: str = "name", **kwargs):
        kwargs.setdefault("allow_none", True)
        super().__init__(**kwargs)
        self.key = key

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else getattr(value, self.key)


class ChannelDatabaseSchema(ma.Schema):
    """A channel database; only its channel data group can be changed through the API."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(dump_only=True, metadata={"example": "HOUSTON-1"})
    kind = ma.fields.String(dump_only=True, metadata={"enum": list(DATABASE_KINDS)})
    store = Reference(
        "store_number", dump_only=True, allow_none=False, metadata={"description": "Store number"}
    )
    register = Reference(
        "register_number",
        dump_only=True,
        metadata={"description": "Register number, for an offline database"},
    )
    channel_data_group = Reference(metadata={"description": "Channel data group name"})
    active = ma.fields.Boolean(dump_only=True)
    # A store's channel database has no register; dump_default makes that null, not absent.
    offline_profile = Reference(
        attribute="register.effective_offline_profile",
        dump_only=True,
        dump_default=None,
        metadata={"description": "Effective offline profile name, for an offline database"},
    )


class DatabaseListArgsSchema(ListArgsSchema):
    """List arguments of channel databases, with their filters."""

    kind = ma.fields.String(validate=ma.validate.OneOf(DATABASE_KINDS))
    group = ma.fields.String(metadata={"description": "Channel data group name"})
    store = ma.fields.String(metadata={"description": "Store number"})


def _database_count(group: ChannelDataGroup) -> int:
    # A count query per group: a group can hold thousands of offline databases.
    return db.session.scalar(
        sa.select(sa.func.count()).where(ChannelDatabase.channel_data_group_id == group.id)
    )


class ChannelDataGroupSchema(ma.Schema):
    """A channel data group."""

    name = ma.fields.String(required=True, metadata={"example": "Houston offline"})
    description = ma.fields.String()
    databases = ma.fields.Function(
        _database_count,
        dump_only=True,
        metadata={"type": "integer", "description": "How many channel databases it holds"},
    )


class ChannelDataGroupUpdateSchema(ChannelDataGroupSchema):
    """A group's fields to change; its own class so the OpenAPI document names it apart."""


ChannelDatabasePageSchema = page_schema(ChannelDatabaseSchema, "ChannelDatabasePage")
ChannelDataGroupPageSchema = page_schema(ChannelDataGroupSchema, "ChannelDataGroupPage")
