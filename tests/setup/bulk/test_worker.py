"""A bulk change past the threshold runs in a real Celery worker, followed by its operation."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry, Operation
from portal.core.extensions import db
from portal.setup.bulk import runner
from portal.setup.models import OFFLINE, ChannelDatabase
from tests.workers import wait_for, worker_process

pytestmark = pytest.mark.usefixtures("app_ctx", "chain")


@pytest.fixture
def low_threshold(app):
    """Bulk changes of more than 2 records go to a worker."""
    before = app.config["BULK_TASK_THRESHOLD"]
    app.config["BULK_TASK_THRESHOLD"] = 2
    yield
    app.config["BULK_TASK_THRESHOLD"] = before


def status_of(operation_id: int) -> str:
    status = db.session.scalar(sa.select(Operation.status).filter_by(id=operation_id))
    db.session.rollback()  # end the read so the next poll sees the worker's commits
    return status


@pytest.mark.usefixtures("low_threshold")
def test_large_change_is_queued_and_made_by_a_worker(client, hq, app, database_uri, tmp_path):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={"filter": {}, "set": {"support_offline": True}},
        headers=hq,
    )

    assert answer.status_code == 202, answer.json
    operation = answer.json["operation"]
    assert operation["status"] == "pending" and operation["total"] == 7
    # Nothing is changed before the worker runs.
    queued = db.session.scalars(sa.select(ChannelDatabase.name).filter_by(kind=OFFLINE)).all()
    assert queued == ["HOUSTON-1"]

    celery = app.config["CELERY"]
    log = tmp_path / "worker.log"
    with worker_process(
        celery["broker_url"], celery["task_default_queue"], database_uri, tmp_path, log
    ) as worker:
        wait_for(lambda: status_of(operation["id"]) == "done", worker, log, "the operation")

    followed = client.get(f"/api/v1/operations/{operation['id']}", headers=hq).json
    assert followed["status"] == "done" and followed["progress"] == 1.0
    assert (followed["changed"], followed["unchanged"], followed["refused"]) == (5, 1, 1)
    assert followed["refusals"][0]["key"] == "NOGROUP-1"
    names = db.session.scalars(sa.select(ChannelDatabase.name).filter_by(kind=OFFLINE)).all()
    assert len(names) == 6
    entries = db.session.scalars(
        sa.select(AuditEntry).filter_by(operation_id=operation["id"], entity_type="register")
    ).all()
    assert len(entries) == 5
    # The worker acts for the user who asked, as the audit trail says.
    assert {(entry.actor, entry.source) for entry in entries} == {(followed["actor"], "api")}


@pytest.mark.usefixtures("low_threshold")
def test_a_worker_lost_before_its_commit_leaves_nothing_and_the_next_makes_it_all(client, hq):
    answer = client.post(
        "/api/v1/registers/bulk",
        json={
            "register_numbers": ["DALLAS-1", "DALLAS-2", "DALLAS-3", "HOUSTON-2", "NOPE"],
            "set": {"support_offline": True},
        },
        headers=hq,
    )
    operation_id = answer.json["operation"]["id"]

    # The whole change is made, then the worker is lost before it commits.
    runner.execute(operation_id, started=db.session.commit)
    db.session.rollback()

    assert status_of(operation_id) == "running"
    offline = sa.select(ChannelDatabase.name).filter_by(kind=OFFLINE)
    assert db.session.scalars(offline).all() == ["HOUSTON-1"]
    assert (
        db.session.scalars(sa.select(AuditEntry).filter_by(operation_id=operation_id)).all() == []
    )

    runner.execute(operation_id, started=db.session.commit)
    db.session.commit()

    operation = db.session.get(Operation, operation_id)
    assert operation.status == "done"
    assert (operation.processed, operation.total) == (5, 5)
    assert (operation.changed, operation.unchanged, operation.refused) == (4, 0, 1)
    stmt = sa.select(AuditEntry.entity_key).filter_by(
        operation_id=operation_id, entity_type="register"
    )
    entries = db.session.scalars(stmt).all()
    assert sorted(entries) == ["DALLAS-1", "DALLAS-2", "DALLAS-3", "HOUSTON-2"]
    assert len(db.session.scalars(offline).all()) == 5
