"""The device API's transaction upload: sales recorded by registers, stored exactly once.

`portal.transactions.ingest` stores them; the device's status notes the last upload when
`transactions` announces an answered batch.
"""

from datetime import datetime

from flask import jsonify, request
from flask.views import MethodView

from portal.core.api import api_blueprint, errors
from portal.core.extensions import db
from portal.device_api.auth import DEVICE_TOKEN, current_database, device_required
from portal.device_api.models import DeviceStatus
from portal.distribution import upload_requests
from portal.setup.models import ChannelDatabase
from portal.transactions import batches, bulk, ingest
from portal.transactions.schemas import UploadResultSchema, UploadSchema

blp = api_blueprint(
    "device_transactions_api",
    __name__,
    "/device/transactions",
    "Transaction upload: registers send the sales they recorded, each stored exactly once.",
)

IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    # Read trimmed of surrounding spaces: a key of spaces only is refused.
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": batches.MAX_KEY_LENGTH,
        "pattern": r"\S",
    },
    "description": "Names the batch: a retry with the same key and body gets the first "
    "response again (header Idempotent-Replayed: true); the same key with another body gets 409.",
}


@blp.route("")
class TransactionUpload(MethodView):
    """Upload sales."""

    @device_required
    @blp.doc(
        security=DEVICE_TOKEN,
        parameters=[IDEMPOTENCY_KEY],
        requestBody={"required": True, "content": {"application/json": {"schema": UploadSchema}}},
    )
    @blp.response(200, UploadResultSchema)
    @errors(blp, 400, 401, 409, 413, 422)
    def post(self):
        """Upload up to 500 sales; each is accepted, duplicate, conflict or rejected on its own."""
        request.max_content_length = batches.MAX_UPLOAD_BYTES
        body = request.get_data(cache=False)
        key = request.headers.get("Idempotency-Key")
        response, replayed = ingest.receive(current_database(), body, key)
        db.session.commit()
        answer = jsonify(response)
        if replayed:
            answer.headers["Idempotent-Replayed"] = "true"
        return answer


def count_for_upload_requests(sender, *, database: ChannelDatabase, stored: int = 0, **_) -> None:
    """Count the sales of a batch towards the database's open upload requests (job P-0001)."""
    upload_requests.count_sent(database.id, stored)


def record_last_upload(sender, *, database: ChannelDatabase, now: datetime, **_) -> None:
    """Note the upload on the database's device status, creating that row if it is missing."""
    table = DeviceStatus.__table__
    db.session.execute(
        bulk.insert(table)
        .values(channel_database_id=database.id, last_upload_at=now)
        .on_conflict_do_update(index_elements=["channel_database_id"], set_={"last_upload_at": now})
    )
