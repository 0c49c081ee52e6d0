"""The device API: how store servers and registers activate, fetch packages and report back.

It hears of each answered upload through `portal.transactions.signals.batch_answered`;
`transactions` never imports it.
"""

from flask import Flask

from portal.device_api import uploads
from portal.transactions.signals import batch_answered


def init_app(app: Flask) -> None:
    """Note every answered upload on its database's device status, in the upload's transaction."""
    batch_answered.connect(uploads.record_last_upload)
