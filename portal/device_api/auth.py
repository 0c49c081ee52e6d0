"""Who is calling the device API: a channel database, by its Bearer device token."""

from functools import wraps

import sqlalchemy as sa
from flask import g, request

from portal.audit import services as audit
from portal.core.extensions import db
from portal.core.sql import commit_unflushed, is_postgresql
from portal.device_api import credentials
from portal.device_api.credentials import WrongCredentials
from portal.setup.models import ChannelDatabase

# The OpenAPI security requirement of the operations `device_required` guards.
DEVICE_TOKEN = [{"deviceToken": []}]


def device_required(view=None, *, read_only: bool = False):
    """Guard a device endpoint; the calling database is then `current_database()`.

    `read_only` views (the package check every device makes every few minutes) run their reads
    outside a transaction on PostgreSQL: each statement is consistent by itself, and the BEGIN
    and ROLLBACK around them were two of the few round trips such a request costs. The token's
    hourly last use, written there, commits by itself.
    """
    if view is None:
        return lambda view: device_required(view, read_only=read_only)

    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise WrongCredentials("Send the device token as 'Authorization: Bearer <token>'.")
        # (Unless the session already holds a transaction, as a test's may.)
        outside_transaction = read_only and is_postgresql() and not db.session().in_transaction()
        if not outside_transaction:
            return _guarded(view, secret.strip(), True, *args, **kwargs)
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        try:
            # The token's last use, when due, is written and committed by itself.
            return _guarded(view, secret.strip(), False, *args, **kwargs)
        finally:
            # Hand the connection back now (nothing to send): the next request on it, should
            # this session outlive the request, gets a transaction again.
            db.session.rollback()

    return wrapper


def _guarded(view, secret: str, in_transaction: bool, *args, **kwargs):
    database, used = credentials.database_for_token(secret)
    if database is None:
        raise WrongCredentials(
            "The device token is unknown or revoked, or its database is inactive; "
            "activate the device again."
        )
    g.device_database_id, name = database
    audit.set_actor(f"device:{name}", "device")
    response = view(*args, **kwargs)
    if used and in_transaction:
        # The token's last use (written once an hour) goes with the request's own commit. A
        # read-only request commits for it alone, and need not wait for the disk; one that
        # fails loses it until the next.
        if request.method == "GET" and is_postgresql():
            db.session.execute(sa.select(commit_unflushed()))
        db.session.commit()
    return response


def current_database() -> ChannelDatabase:
    """The channel database whose device token authenticated this request."""
    return db.session.get(ChannelDatabase, g.device_database_id)


def current_database_id() -> int:
    """The id of that database, for the routes every device calls often: no row to load."""
    return g.device_database_id
