"""JSON shapes of offline profiles and their offline scopes."""

import marshmallow as ma

from portal.core.api import DecimalString, page_schema
from portal.core.arguments import StrictBoolean
from portal.masterdata.jobs import DIRECTIONS
from portal.setup.offline_profiles.services import LIMITS, MAX_OFFLINE_MINUTES, MAX_OFFLINE_TOTAL


def _limited(field: str, unit: str) -> ma.fields.Integer:
    # The service checks the range; the metadata only documents it.
    low, high = LIMITS[field]
    return ma.fields.Integer(
        strict=True, metadata={"minimum": low, "maximum": high, "description": unit}
    )


class OfflineScopeSchema(ma.Schema):
    """Which tables an offline database receives, and in which direction."""

    name = ma.fields.String(required=True, metadata={"example": "Sales tax"})
    direction = ma.fields.String(
        metadata={
            "enum": list(DIRECTIONS),
            "description": "download (master data) when not given, or upload (the sales: "
            "sales_transaction with its lines and payments); bidirectional is refused",
        }
    )
    tables = ma.fields.List(
        ma.fields.String(), required=True, metadata={"example": ["tax_code", "tax_rate"]}
    )


class OfflineProfileSchema(ma.Schema):
    """An offline profile; its scopes are listed in the order they are synchronised."""

    name = ma.fields.String(required=True, metadata={"example": "Standard offline"})
    offline_timeout_s = _limited("offline_timeout_s", "Seconds before switching offline")
    reconnect_interval_min = _limited("reconnect_interval_min", "Minutes between reconnections")
    pause_sync = StrictBoolean()
    allow_manual_switch_before_sign_in = StrictBoolean()
    advanced_offline_switching = StrictBoolean()
    health_check_interval_min = _limited("health_check_interval_min", "Minutes between checks")
    max_offline_minutes = ma.fields.Integer(
        strict=True,
        allow_none=True,
        metadata={
            "minimum": MAX_OFFLINE_MINUTES[0],
            "maximum": MAX_OFFLINE_MINUTES[1],
            "description": "Auditors: a sale made after this many minutes offline is an anomaly; "
            "null for no threshold",
        },
    )
    max_offline_total = DecimalString(
        places=2,
        allow_none=True,
        metadata={
            "description": "Auditors: an offline sale above this total is an anomaly "
            f"({MAX_OFFLINE_TOTAL[0]} to {MAX_OFFLINE_TOTAL[1]}); null for no threshold",
            "example": "500.00",
        },
    )
    scopes = ma.fields.List(
        ma.fields.Nested(OfflineScopeSchema),
        metadata={"description": "Default scopes when created without; on update, replaces all"},
    )


class OfflineProfileUpdateSchema(OfflineProfileSchema):
    """A profile's fields to change; its own class so the OpenAPI document names it apart."""


OfflineProfilePageSchema = page_schema(OfflineProfileSchema, "OfflineProfilePage")
