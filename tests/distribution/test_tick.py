"""The beat tick: recurring schedules, runs left waiting, and builds that stopped moving."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.models import utcnow
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DownloadSession
from portal.extensions import db

pytestmark = pytest.mark.usefixtures("stores_group")


def test_due_schedule_gets_a_run_and_its_next_time():
    schedule = distribution.get_schedule("1080")
    schedule.interval_minutes = 30
    schedule.next_run_at = utcnow() - timedelta(minutes=1)
    db.session.commit()

    (run_id,) = runs.due_runs()
    db.session.commit()

    assert db.session.get(DistributionRun, run_id).status == "waiting"
    assert schedule.next_run_at > utcnow() + timedelta(minutes=29)
    assert runs.due_runs() == [run_id]  # still waiting: handed over again, no second run


def test_disabled_or_unscheduled_schedules_do_not_run():
    schedule = distribution.get_schedule("1080")
    schedule.interval_minutes = 30
    schedule.enabled = False
    db.session.commit()
    assert runs.due_runs() == []


def test_a_started_run_is_not_planned_twice():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    assert len(runs.plan_run(run.id)) == 3
    db.session.commit()
    assert runs.due_runs() == []
    assert runs.plan_run(run.id) == []


def test_builds_that_stopped_moving_are_handed_out_again_once_per_period():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    first, *others = runs.plan_run(run.id)
    db.session.commit()
    builds.build_session(first)
    db.session.commit()

    assert runs.stalled_sessions(timedelta(minutes=15)) == []
    stalled = runs.stalled_sessions(timedelta(0))
    db.session.commit()
    assert stalled == others
    assert runs.stalled_sessions(timedelta(minutes=1)) == []  # just handed out


def test_claim_refuses_a_session_already_built():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    session_id = runs.plan_run(run.id)[0]
    db.session.commit()
    assert builds.claim([session_id]) == [session_id]
    builds.build_session(session_id)
    db.session.commit()
    assert builds.claim([session_id]) == []
    status = db.session.scalar(sa.select(DownloadSession.status).filter_by(id=session_id))
    assert status == "available"
