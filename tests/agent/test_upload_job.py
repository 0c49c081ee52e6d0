"""The agent answers HQ's upload request (job P-0001): it uploads, and HQ's request is done."""

import sqlalchemy as sa

from portal.core.extensions import db
from portal.distribution import runs
from portal.distribution import services as schedules
from portal.distribution.models import UPLOAD_DONE, UPLOAD_REQUESTED, UploadRequest
from tests.agent.portal import build_waiting_runs, database_named


def request_for(name: str) -> tuple:
    """The named database's upload request: status, tries, pending reported, sent, message."""
    db.session.expire_all()
    request = db.session.scalar(
        sa.select(UploadRequest).filter_by(channel_database_id=database_named(name).id)
    )
    values = (request.status, request.tries, request.pending_reported, request.sent)
    message = request.message
    # End the read, so that the live portal's writes (on SQLite) need not wait for it.
    db.session.rollback()
    return (*values, message)


def test_a_heartbeat_asked_for_an_upload_sends_the_waiting_sales_then_reports_none(
    agent, activated
):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    assert agent("sell", "--count", "6", "--offline", "--seed", "4")[0] == 0
    schedules.create_schedule(
        {"code": "EOD", "name": "End of day", "jobs": ["P-0001"], "groups": ["Stores"]}
    )
    runs.request_run(schedules.get_schedule("EOD"))
    db.session.commit()
    build_waiting_runs()
    assert request_for("SEATTLE-1")[0] == UPLOAD_REQUESTED

    code, out, err = agent("status")

    assert code == 0, err
    assert "HQ asks for the sales waiting here: uploading 6 now." in out
    assert request_for("SEATTLE-1") == (
        UPLOAD_DONE,
        1,
        6,
        6,
        "Uploaded 6 sale(s); none left waiting.",
    )
    assert agent("status", "--json")[0] == 0
