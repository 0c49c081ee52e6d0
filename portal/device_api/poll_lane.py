"""The poll lane: a chain's routine device polls, answered in front of the Flask app.

Every few minutes each device sends a heartbeat (`POST /device/status`) and checks its package
list (`GET /device/packages`, naming the list it has in `If-None-Match`); at 50,000 devices
that is most of what HQ serves, and most of it finds nothing new. Through Flask, flask-smorest
and the ORM such a request cost about 1.3 ms of CPU, of which its database work was a fifth.

On PostgreSQL the lane answers those two routine cases before the app sees them: one statement
each, the device token checked within it, built by the same services the routes call
(`credentials`, `heartbeats`, `packages`), the body read by the same schemas, and the answer
given the app's headers, request id, log line and metrics. Anything else goes on to the app,
which answers it in full as before, and the lane has written nothing then: no token or an
unknown one, a body or query the schemas or the storable checks refuse, a last applied package
of another database, another page or a list that changed since the device's ETag.
"""

import io
import json
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import parse_qsl

import marshmallow as ma
import sqlalchemy as sa
from flask import Flask
from werkzeug.http import parse_etags, quote_etag

from portal.core import logs, metrics, security
from portal.core.api import API_PREFIX
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.pagination import page_of
from portal.core.storable import problems
from portal.device_api import credentials, heartbeats, packages
from portal.device_api.schemas import (
    HeartbeatReceiptSchema,
    HeartbeatSchema,
    PackageListArgsSchema,
)
from portal.distribution import upload_requests
from portal.distribution.models import DownloadSession

HEARTBEAT_PATH = f"{API_PREFIX}/device/status"
PACKAGES_PATH = f"{API_PREFIX}/device/packages"
# The routes' endpoint names, so the metrics count a request alike whichever way it went.
HEARTBEAT_ENDPOINT = "device_api.Heartbeats"
PACKAGES_ENDPOINT = "device_api.Packages"
# A heartbeat is a few hundred bytes; a larger body is the app's to read.
MAX_BODY = 16 * 1024

_heartbeat_schema = HeartbeatSchema()
_receipt_schema = HeartbeatReceiptSchema()
_list_args_schema = PackageListArgsSchema()
_ListedSession = namedtuple("_ListedSession", "id status sha256")


class Answer(NamedTuple):
    """What the lane answers: plain WSGI parts, as werkzeug's response objects cost a tenth of
    its time."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


def install(app: Flask) -> None:
    """Put the lane in front of the app when its database is PostgreSQL; on SQLite, the
    embedded default of a few devices, every request goes to the app."""
    if (app.config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("postgresql"):
        app.wsgi_app = PollLane(app, app.wsgi_app)


class PollLane:
    """WSGI middleware answering routine heartbeats and unchanged package lists."""

    def __init__(self, app: Flask, wsgi_app: Callable):
        self.app = app
        self.wsgi_app = wsgi_app
        self._engine = None
        self._engine_lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        answer, endpoint = None, None
        if path == HEARTBEAT_PATH and method == "POST":
            answer, endpoint = self._heartbeat(environ), HEARTBEAT_ENDPOINT
        elif path == PACKAGES_PATH and method == "GET":
            answer, endpoint = self._package_check(environ), PACKAGES_ENDPOINT
        if answer is None:
            return self.wsgi_app(environ, start_response)
        return self._finish(answer, environ, start_response, endpoint, started)

    def _heartbeat(self, environ: dict) -> Answer | None:
        secret = _bearer_token(environ)
        report = _json_body(environ) if secret else None
        if report is None or problems(report):
            return None
        try:
            report = _heartbeat_schema.load(report)
        except ma.ValidationError:
            return None
        if problems(report):
            return None
        received_at = utcnow()
        values = heartbeats.reported_values(report, received_at)
        values["token_hash"] = credentials.secret_hash(secret)
        rows = self._run(heartbeats.reporting_by_token(), values)
        if not rows:
            return None
        reported = rows[0]
        upload_requested = reported.upload_open and self._answer_upload_request(
            reported.database_id, report["pending_uploads"]
        )
        receipt = _receipt_schema.dump(
            {"received_at": received_at, "upload_requested": upload_requested}
        )
        body = json.dumps(receipt).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        return Answer(200, headers, body)

    def _answer_upload_request(self, database_id: int, pending_uploads: int) -> bool:
        # Rare (a run of P-0001 waits for the device): the rules' own ORM path and commit.
        with self.app.app_context():
            try:
                upload_requested = upload_requests.answer_heartbeat(database_id, pending_uploads)
                db.session.commit()
                return upload_requested
            except sa.exc.SQLAlchemyError:
                # The heartbeat is kept; the request is open, so the device is asked to upload,
                # and its next heartbeat moves the request on.
                self.app.logger.exception("Could not answer the upload request of %s", database_id)
                return True
            finally:
                db.session.remove()

    def _package_check(self, environ: dict) -> Answer | None:
        secret = _bearer_token(environ)
        named = environ.get("HTTP_IF_NONE_MATCH")
        if not secret or not named:
            return None
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        arguments = dict(query)
        if len(arguments) != len(query) or "cursor" in arguments or problems(arguments):
            return None
        try:
            arguments = _list_args_schema.load(arguments)
        except ma.ValidationError:
            return None
        status, limit = arguments["status"], arguments["limit"]
        rows = self._run(
            packages.check_by_token(status, limit), {"token_hash": credentials.secret_hash(secret)}
        )
        if not rows:
            return None
        listed = [_ListedSession(*row[2:]) for row in rows if row.id is not None]
        etag = packages.list_etag(*page_of(listed, DownloadSession.id, limit))
        if etag not in parse_etags(named):
            return None
        return Answer(304, [("ETag", quote_etag(etag))])

    def _run(self, statement: sa.Executable, values: dict) -> list[sa.Row] | None:
        """The rows of a lane statement, the token's last use written when due (its first row
        names the token); None when the database failed the statement, which wrote nothing then:
        the app answers the request, as it answers any when the database fails."""
        try:
            with self._connection() as connection:
                rows = connection.execute(statement, values).all()
                if rows:
                    self._note_use(connection, rows[0])
                return rows
        except sa.exc.SQLAlchemyError as error:
            self.app.logger.warning("The poll lane passed a request on to the app: %s", error)
            return None

    def _note_use(self, connection: sa.Connection, row: sa.Row) -> None:
        try:
            credentials.note_use(connection, row.token_id, row.last_used_at)
        except sa.exc.SQLAlchemyError:
            # Written once an hour, and the statement before it committed: the next poll
            # writes it.
            self.app.logger.exception("Could not note the use of device token %s", row.token_id)

    def _connection(self) -> sa.Connection:
        """A connection whose statements commit each by itself.

        From an engine of the lane's own (setting autocommit on each connection of the app's
        engine and back cost a tenth of a poll), closed whenever the app's engine is."""
        if self._engine is None:
            with self._engine_lock, self.app.app_context():
                if self._engine is None:
                    self._engine = sa.create_engine(
                        db.engine.url,
                        isolation_level="AUTOCOMMIT",
                        **self.app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
                    )
                    sa.event.listen(db.engine, "engine_disposed", self._dispose)
        return self._engine.connect()

    def _dispose(self, _app_engine: sa.Engine) -> None:
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()

    def _finish(
        self, answer: Answer, environ: dict, start_response: Callable, endpoint: str, started
    ) -> Iterable[bytes]:
        """The app's after-request work for an answer the lane gave, and the answer sent."""
        request_id = logs.take_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        headers = [*answer.headers, *security.SECURITY_HEADERS.items()]
        headers.append((logs.REQUEST_ID_HEADER, request_id))
        method = environ["REQUEST_METHOD"]
        logs.log_request(method, environ["PATH_INFO"], answer.status, started, request_id)
        metrics.count_request(endpoint, method, answer.status, time.perf_counter() - started)
        start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
        return [answer.body]


def _bearer_token(environ: dict) -> str | None:
    scheme, _, secret = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def _json_body(environ: dict):
    """The JSON body, or None; what was read is put back for the app should it answer."""
    if environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower() != "application/json":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
