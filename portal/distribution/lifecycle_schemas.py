"""JSON shapes of a download session's lifecycle: its tries, cancelling, retrying, full sync."""

import marshmallow as ma

from portal.distribution.labels import session_status_label
from portal.distribution.lifecycle import tries_of
from portal.distribution.models import FULL, INCREMENTAL, SESSION_STATUSES
from portal.distribution.schemas import Derived, RunSummarySchema

MAX_ID = 2**31 - 1


class NoBodySchema(ma.Schema):
    """Nothing to send: the URL names what to act on."""


class SessionTrySchema(ma.Schema):
    """A failed download or apply the device reported."""

    tried_at = ma.fields.DateTime()
    status = ma.fields.String(metadata={"enum": ["download_failed", "apply_failed"]})
    message = ma.fields.String()


class DownloadSessionSchema(ma.Schema):
    """A download session: one package for one database, its status in words, and its tries."""

    id = ma.fields.Integer()
    run = ma.fields.Integer(attribute="run_id")
    channel_database = ma.fields.Integer(attribute="channel_database_id")
    job = ma.fields.String(attribute="job_number")
    kind = ma.fields.String(allow_none=True, metadata={"enum": [FULL, INCREMENTAL]})
    status = ma.fields.String(metadata={"enum": list(SESSION_STATUSES)})
    status_label = ma.fields.Function(
        session_status_label,
        metadata={"type": "string", "example": "Apply failed: 3 tries"},
    )
    failed_tries = ma.fields.Integer(
        metadata={"description": "Failed downloads or applies since it was last offered afresh"}
    )
    message = ma.fields.String()
    requested_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    tries = Derived(SessionTrySchema, tries_of, many=True)


class CanceledSchema(ma.Schema):
    """The sessions a cancel reached: those asked for and the incrementals built on them."""

    canceled = ma.fields.List(ma.fields.Integer(), metadata={"example": [41, 57]})


class FullSyncRequestSchema(ma.Schema):
    """The channel databases to send full packages to."""

    channel_databases = ma.fields.List(
        ma.fields.Integer(strict=True, validate=ma.validate.Range(1, MAX_ID)),
        required=True,
        validate=ma.validate.Length(min=1, max=500),
        metadata={"description": "Channel database ids, 1 to 500", "example": [7, 8]},
    )


class FullSyncSchema(ma.Schema):
    """The runs a full data sync requested, one per database and schedule reaching it."""

    databases = ma.fields.Integer(metadata={"description": "How many databases it hits"})
    runs = ma.fields.List(ma.fields.Nested(RunSummarySchema))
