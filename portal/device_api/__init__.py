"""The device API: how store servers and registers activate, fetch packages and report back.

It hears of each answered upload through `portal.transactions.signals.batch_answered`, and
fills in the hooks of setup's pages that show a device; neither package imports it.
"""

from flask import Flask

from portal.device_api import poll_lane, uploads, views
from portal.setup.channels.views import database_page
from portal.setup.registers.views import detail_page
from portal.transactions.signals import batch_answered


def init_app(app: Flask) -> None:
    """Note answered uploads on the device status; show devices on setup's pages; answer
    routine polls in the lane in front of the app."""
    batch_answered.connect(uploads.record_last_upload)
    batch_answered.connect(uploads.count_for_upload_requests)
    database_page.add(views.channel_database_page)
    detail_page.add(views.register_page)
    poll_lane.install(app)
