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


def device_required(view):
    """Guard a device endpoint; the calling database is then `current_database()`."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise WrongCredentials("Send the device token as 'Authorization: Bearer <token>'.")
        database, used = credentials.database_for_token(secret.strip())
        if database is None:
            raise WrongCredentials(
                "The device token is unknown or revoked, or its database is inactive; "
                "activate the device again."
            )
        g.device_database_id, name = database
        audit.set_actor(f"device:{name}", "device")
        response = view(*args, **kwargs)
        if used:
            # The token's last use (written once an hour) goes with the request's own commit. A
            # read-only request commits for it alone, and need not wait for the disk; one that
            # fails loses it until the next.
            if request.method == "GET" and is_postgresql():
                db.session.execute(sa.select(commit_unflushed()))
            db.session.commit()
        return response

    return wrapper


def current_database() -> ChannelDatabase:
    """The channel database whose device token authenticated this request."""
    return db.session.get(ChannelDatabase, g.device_database_id)


def current_database_id() -> int:
    """The id of that database, for the routes every device calls often: no row to load."""
    return g.device_database_id
