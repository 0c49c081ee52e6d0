"""The device API: activation, configuration, packages and heartbeats of channel databases."""

from collections.abc import Iterable, Iterator

from flask import Response, current_app, redirect, request, send_file
from flask.views import MethodView
from flask_limiter.util import get_remote_address
from werkzeug.http import quote_etag

from portal.audit import services as audit
from portal.core.api import api_blueprint, errors
from portal.core.extensions import db, limiter
from portal.core.pagination import keyset_page
from portal.device_api import credentials, heartbeats, packages
from portal.device_api.auth import (
    DEVICE_TOKEN,
    current_database,
    current_database_id,
    device_required,
)
from portal.device_api.schemas import (
    ActivateSchema,
    ActivationSchema,
    DeviceConfigSchema,
    HeartbeatReceiptSchema,
    HeartbeatSchema,
    PackageItemSchema,
    PackageListArgsSchema,
    PackagePageSchema,
    PackageReportSchema,
)
from portal.distribution import tasks, upload_requests
from portal.distribution.models import DownloadSession
from portal.setup.models import OFFLINE

blp = api_blueprint(
    "device_api",
    __name__,
    "/device",
    "The device API: store servers and registers activate, fetch their packages and report back.",
)

# Codes carry about 60 bits, but a guesser should still not get far from one address.
ACTIVATION_LIMIT = "10 per minute"
BINARY = {"type": "string", "format": "binary"}
LIST_ETAG = {
    "description": "Names this list; send it back in If-None-Match.",
    "schema": {"type": "string"},
}


@blp.route("/activate")
class Activation(MethodView):
    """Trading an activation code for a device token."""

    @limiter.limit(
        ACTIVATION_LIMIT,
        error_message="Too many activation attempts from this address; wait a minute.",
    )
    @blp.doc(security=[])
    @blp.arguments(ActivateSchema)
    @blp.response(201, ActivationSchema)
    @errors(blp, 400, 401, 409, 422, 429)
    def post(self, data):
        """Activate a device with the one-time code HQ issued for its channel database.

        The token in the answer is shown only here; it replaces the database's earlier tokens.
        A database's first activation also requests a full package from each of its schedules.
        Wrong codes and unknown databases are 401; used or expired codes 409.
        """
        audit.set_actor(f"device at {get_remote_address()}", "device")
        token, secret, run_ids = credentials.activate(data["database"], data["activation_code"])
        db.session.commit()
        for run_id in run_ids:
            tasks.dispatch_run(run_id)
        return {"device_token": secret, "channel_database": token.channel_database}


@blp.route("/config")
class Config(MethodView):
    """The calling database's setup."""

    @device_required
    @blp.doc(security=DEVICE_TOKEN)
    @blp.response(200, DeviceConfigSchema)
    @errors(blp, 401)
    def get(self):
        """The database, its store and register, and an offline database's offline profile."""
        database = current_database()
        register = database.register
        offline = database.kind == OFFLINE and register is not None
        return {
            "channel_database": database,
            "store": database.store,
            "register": register,
            "offline_profile": register.effective_offline_profile if offline else None,
        }


@blp.route("/packages")
class Packages(MethodView):
    """The calling database's packages."""

    @device_required(read_only=True)
    @blp.doc(security=DEVICE_TOKEN)
    @blp.arguments(PackageListArgsSchema, location="query")
    @blp.response(200, PackagePageSchema, headers={"ETag": LIST_ETAG})
    @blp.alt_response(304, description="Not modified: `If-None-Match` names the list's ETag.")
    @errors(blp, 401, 422)
    def get(self, args):
        """List packages in apply order; by default those still to apply.

        Send the `ETag` of the last answer in `If-None-Match`: while the list is the same, the
        answer is 304 with no body, so a device with nothing new costs HQ one indexed read.
        """
        # The list's state first, in plain columns: while it is unchanged that is all we read.
        states, next_cursor = packages.list_state(
            current_database_id(), args["status"], args.get("cursor"), args["limit"]
        )
        etag = packages.list_etag(states, next_cursor)
        if etag in request.if_none_match:
            not_modified = Response(status=304)
            not_modified.set_etag(etag)
            return not_modified
        # Changed: the page itself, named by what it shows (a status may have moved meanwhile).
        stmt = packages.packages_query(current_database_id(), args["status"])
        items, next_cursor = keyset_page(
            stmt, DownloadSession.id, args.get("cursor"), args["limit"]
        )
        etag = packages.list_etag(packages.states_of(items), next_cursor)
        return {"items": items, "next": next_cursor}, 200, {"ETag": quote_etag(etag)}


@blp.route("/packages/<int:session_id>/content")
class PackageContent(MethodView):
    """A package's file."""

    @device_required
    @blp.doc(security=DEVICE_TOKEN)
    @blp.response(
        200,
        BINARY,
        content_type="application/zip",
        description="The package file; its ETag is its SHA-256.",
    )
    @blp.alt_response(
        206,
        schema=BINARY,
        content_type="application/zip",
        description="The byte range asked for with `Range: bytes=N-`, to resume a download.",
    )
    @blp.alt_response(
        302,
        description="The package is in object storage: download it from `Location`, a "
        "presigned URL valid a few minutes (it takes `Range` too), then report it "
        "`downloaded`.",
    )
    @blp.alt_response(304, description="Not modified: `If-None-Match` matches the ETag.")
    @errors(blp, 401, 404, 416)
    def get(self, session_id):
        """Download a package; the session counts as downloaded once its last byte went out.

        From object storage the answer is a redirect to the bucket, and the device reports the
        package `downloaded` once it has every byte and the SHA-256 matches.
        """
        session = packages.get_package(current_database(), session_id)
        path, url = packages.package_file(session)
        if url is not None:
            return redirect(url, 302)
        response = send_file(
            path,
            mimetype="application/zip",
            download_name=f"package-{session.id}.zip",
            conditional=True,
            etag=session.package.sha256,
        )
        size = path.stat().st_size
        reaches_end = response.status_code == 200 or (
            response.status_code == 206 and response.content_range.stop == size
        )
        if reaches_end:
            response.response = _MarkWhenSent(
                response.response, response.content_length, session.id
            )
        return response


class _MarkWhenSent:
    """A package body that marks its session downloaded once every byte of it went out.

    A client that drops the connection midway leaves the session as it was, so HQ never shows
    a package as downloaded that the device does not have.
    """

    def __init__(self, body: Iterable[bytes], length: int, session_id: int):
        self.body = body
        self.length = length
        self.session_id = session_id
        self.app = current_app._get_current_object()

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self.body:
            sent += len(chunk)
            yield chunk
        if sent == self.length:
            self._mark()

    def close(self) -> None:
        """Close the file, whether or not the body was read (a HEAD request reads none)."""
        if hasattr(self.body, "close"):
            self.body.close()

    def _mark(self) -> None:
        # The request's context is gone by the time the server streams the body.
        with self.app.app_context():
            try:
                packages.mark_downloaded(self.session_id)
                db.session.commit()
            except Exception:
                # The bytes are out; failing to record that must not break the download.
                self.app.logger.exception("Could not mark package %s downloaded", self.session_id)


@blp.route("/packages/<int:session_id>/status")
class PackageReport(MethodView):
    """How applying a package went."""

    @device_required
    @blp.doc(security=DEVICE_TOKEN)
    @blp.arguments(PackageReportSchema)
    @blp.response(200, PackageItemSchema)
    @errors(blp, 400, 401, 404, 409, 422)
    def post(self, data, session_id):
        """Report a package applied (strictly in order), or failed to download or apply.

        A failed package is offered again (`available`, the message counting the tries) until
        the try count (3 by default) is used up; it then ends `download_failed` or
        `apply_failed` and waits for HQ. Applying one out of order is 409 naming the package to
        apply first in `fields.must_apply_first`. Applying a full package cancels the earlier
        pending packages of its job, which it supersedes.
        """
        session = packages.get_package(current_database(), session_id)
        packages.report(session, data["status"], data["message"])
        db.session.commit()
        return session


@blp.route("/status")
class Heartbeats(MethodView):
    """The device's heartbeat."""

    @device_required
    @blp.doc(security=DEVICE_TOKEN)
    @blp.arguments(HeartbeatSchema)
    @blp.response(200, HeartbeatReceiptSchema)
    @errors(blp, 400, 401, 422)
    def post(self, data):
        """Report the device's state: mode and since when, pending uploads, last package applied.

        Also its local database's size, free disk, last error, whether its offline profile
        pauses synchronization, and its app version; HQ shows them on the device's pages.
        `upload_requested` in the answer asks the device to upload its sales now (a run of
        job P-0001), then to send a heartbeat again.
        """
        database_id = current_database_id()
        received_at, upload_open = heartbeats.record_heartbeat(database_id, data)
        upload_requested = upload_open and upload_requests.answer_heartbeat(
            database_id, data.get("pending_uploads")
        )
        db.session.commit()
        return {"received_at": received_at, "upload_requested": upload_requested}
