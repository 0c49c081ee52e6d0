"""The portal and a bare Flask endpoint in one WSGI app, so one gunicorn serves both alike.

`/bare/ping` is the floor: Flask answering a small JSON object with no database, no
authentication and no extension, through the same gunicorn workers as the device API.
"""

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from app import app as portal

bare = Flask("bare")


@bare.get("/ping")
def ping():
    """A small JSON answer, as the device API's heartbeat gives."""
    return {"ok": True}


app = DispatcherMiddleware(portal, {"/bare": bare})
