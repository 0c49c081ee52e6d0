"""JSON shapes of the device API and of the activation codes HQ issues for it."""

import marshmallow as ma

from portal.core.api import page_schema
from portal.core.arguments import StrictBoolean
from portal.device_api.models import MODES
from portal.device_api.packages import LIST_AVAILABLE, LIST_STATUSES, REPORTABLE
from portal.distribution.models import FULL, INCREMENTAL, SESSION_STATUSES
from portal.setup.channels.schemas import Reference
from portal.setup.models import DATABASE_KINDS
from portal.setup.offline_profiles.schemas import OfflineProfileSchema, OfflineScopeSchema

# PostgreSQL's integer columns end here; a larger number must be a field error, not a crash.
MAX_INT = 2**31 - 1
# Sizes are kept in 64-bit columns; numbers of 10^14 or more are refused everywhere.
MAX_BYTES = 10**14 - 1


class ActivationCodeRequestSchema(ma.Schema):
    """Nothing to send: the code is for the database named in the URL."""


class ActivationCodeSchema(ma.Schema):
    """A new one-time activation code, shown once; it expires after a day."""

    channel_database = ma.fields.Integer(metadata={"example": 7})
    name = ma.fields.String(metadata={"example": "HOUSTON-1"})
    activation_code = ma.fields.String(metadata={"example": "ABCD-EFGH-JKMN"})
    expires_at = ma.fields.DateTime()


class DatabaseRef(ma.fields.Field):
    """A channel database by id (a number), or by its name, register number or store number."""

    default_error_messages = {
        "invalid": "Give the database's id, name, register number or store number."
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        if isinstance(value, int):
            if not 0 < value <= MAX_INT:
                raise self.make_error("invalid")
            return value
        if not value.strip() or len(value) > 100:
            raise self.make_error("invalid")
        return value.strip()


class ActivateSchema(ma.Schema):
    """Which database the device is, and the code HQ gave for it."""

    database = DatabaseRef(
        required=True,
        metadata={
            "oneOf": [{"type": "integer"}, {"type": "string"}],
            "description": "Channel database id, name, register number or store number",
            "example": "HOUSTON-1",
        },
    )
    activation_code = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=100),
        metadata={"example": "ABCD-EFGH-JKMN"},
    )


class DeviceDatabaseSchema(ma.Schema):
    """The channel database a device token belongs to."""

    id = ma.fields.Integer()
    name = ma.fields.String(metadata={"example": "HOUSTON-1"})
    kind = ma.fields.String(metadata={"enum": list(DATABASE_KINDS)})
    store = Reference("store_number", allow_none=False, metadata={"example": "HOUSTON"})
    register = Reference("register_number", metadata={"description": "Null for a store's"})


class ActivationSchema(ma.Schema):
    """The device token (shown once: keep it) and the database it opens."""

    device_token = ma.fields.String(metadata={"example": "hqd_..."})
    channel_database = ma.fields.Nested(DeviceDatabaseSchema)


class ConfigDatabaseSchema(ma.Schema):
    """The calling channel database."""

    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": list(DATABASE_KINDS)})
    activated_at = ma.fields.DateTime(allow_none=True)


class ConfigStoreSchema(ma.Schema):
    """The settings of the database's store."""

    store_number = ma.fields.String()
    name = ma.fields.String()
    currency = ma.fields.String()
    time_zone = ma.fields.String()
    tax_group = ma.fields.String()
    price_group = ma.fields.String(allow_none=True)
    assortment = ma.fields.String(allow_none=True)


class ConfigRegisterSchema(ma.Schema):
    """The register of an offline database."""

    register_number = ma.fields.String()
    support_offline = ma.fields.Boolean()


class ConfigOfflineProfileSchema(OfflineProfileSchema):
    """The register's effective offline profile: its settings, and its scopes in order.

    The auditors' thresholds are HQ's own business, not the register's.
    """

    scopes = ma.fields.List(ma.fields.Nested(OfflineScopeSchema))

    class Meta:
        exclude = ("max_offline_minutes", "max_offline_total")


class DeviceConfigSchema(ma.Schema):
    """What a device needs to know about itself."""

    channel_database = ma.fields.Nested(ConfigDatabaseSchema)
    store = ma.fields.Nested(ConfigStoreSchema)
    register = ma.fields.Nested(
        ConfigRegisterSchema, allow_none=True, metadata={"description": "Null for a store's"}
    )
    offline_profile = ma.fields.Nested(
        ConfigOfflineProfileSchema,
        allow_none=True,
        metadata={"description": "An offline database's effective profile; else null"},
    )


class PackageListArgsSchema(ma.Schema):
    """Which packages to list, a page at a time."""

    status = ma.fields.String(
        load_default=LIST_AVAILABLE,
        validate=ma.validate.OneOf(LIST_STATUSES),
        metadata={"description": "available: not yet applied, in apply order (the default)"},
    )
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=1, max=500))
    cursor = ma.fields.String(metadata={"description": "The `next` value of the previous page"})


class PackageItemSchema(ma.Schema):
    """A package for this database: a download session and its file."""

    id = ma.fields.Integer(metadata={"description": "Download session id"})
    job = ma.fields.String(attribute="job_number", metadata={"example": "1080"})
    kind = ma.fields.String(metadata={"enum": [FULL, INCREMENTAL]})
    status = ma.fields.String(metadata={"enum": list(SESSION_STATUSES)})
    sha256 = ma.fields.String(attribute="package.sha256")
    size = ma.fields.Integer(attribute="package.size", metadata={"description": "Bytes"})
    row_counts = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), attribute="package.row_counts"
    )
    base_version = ma.fields.Integer()
    new_version = ma.fields.Integer()
    available_at = ma.fields.DateTime(attribute="package.created_at")


PackagePageSchema = page_schema(PackageItemSchema, "DevicePackagePage")


class PackageReportSchema(ma.Schema):
    """How applying a package went."""

    status = ma.fields.String(required=True, validate=ma.validate.OneOf(REPORTABLE))
    message = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=2000),
        metadata={"description": "Why applying failed, for HQ to read"},
    )


def _bytes(description: str) -> ma.fields.Integer:
    return ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=MAX_BYTES),
        metadata={"description": f"{description}, in bytes"},
    )


class HeartbeatSchema(ma.Schema):
    """A device's state as it reports it."""

    mode = ma.fields.String(required=True, validate=ma.validate.OneOf(MODES))
    offline_since = ma.fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "When it went offline, with its UTC offset; null when online"},
    )
    pending_uploads = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=0, max=MAX_INT),
        metadata={"description": "Transactions recorded but not yet uploaded"},
    )
    last_applied_package = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=ma.validate.Range(min=1, max=MAX_INT),
        metadata={"description": "Id of the last package applied, one of this database's"},
    )
    app_version = ma.fields.String(load_default="", validate=ma.validate.Length(max=40))
    mode_since = ma.fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "Since when the device is in this mode, with its UTC offset"},
    )
    database_bytes = _bytes("The size of the device's local database")
    free_disk_bytes = _bytes("Free space on the disk holding the local database")
    last_error = ma.fields.String(
        load_default="",
        allow_none=True,
        validate=ma.validate.Length(max=1000),
        metadata={"description": "The device's last error, for HQ to help; empty when none"},
    )
    sync_paused = StrictBoolean(
        load_default=False,
        metadata={"description": "The offline profile pauses synchronization: no downloads"},
    )


class HeartbeatReceiptSchema(ma.Schema):
    """When HQ received the heartbeat, and whether HQ asks the device to upload now."""

    received_at = ma.fields.DateTime()
    upload_requested = ma.fields.Boolean(
        metadata={
            "description": "A run of the upload job (P-0001) waits for this device: upload "
            "the pending sales now, then send a heartbeat again"
        }
    )
