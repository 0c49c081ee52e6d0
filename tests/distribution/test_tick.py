"""The beat tick: recurring schedules, runs left waiting, and builds that stopped moving."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import builds, runs, sessions
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun, DownloadSession

pytestmark = pytest.mark.usefixtures("stores_group")

MAX = 3  # build attempts


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

    assert runs.reap_lost_builds(timedelta(minutes=15), MAX) == []
    stalled = runs.reap_lost_builds(timedelta(0), MAX)
    db.session.commit()
    assert stalled == [others]  # never started: sent as one batch
    assert runs.reap_lost_builds(timedelta(minutes=1), MAX) == []  # just handed out


def lose_builds(session_ids: list[int], times: int) -> None:
    """Start the sessions' builds `times` times, each build dying before it finishes."""
    for _ in range(times):
        assert builds.claim(session_ids) == sorted(session_ids)
        db.session.commit()


def test_a_session_whose_build_was_lost_goes_alone():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    first, second, third = runs.plan_run(run.id)
    db.session.commit()
    lose_builds([first, second], 1)

    assert runs.reap_lost_builds(timedelta(0), MAX) == [[third], [first], [second]]
    db.session.commit()
    attempts = db.session.scalars(
        sa.select(DownloadSession.build_attempts).filter_by(run_id=run.id).order_by("id")
    )
    assert list(attempts) == [1, 1, 0]


def test_a_build_lost_too_often_fails_its_session_and_then_its_run():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    first, *others = runs.plan_run(run.id)
    db.session.commit()
    for session_id in others:
        builds.build_session(session_id)
        db.session.commit()
    lose_builds([first], MAX - 1)
    assert runs.reap_lost_builds(timedelta(0), MAX) == [[first]]
    db.session.commit()
    assert db.session.get(DistributionRun, run.id).status == "running"

    lose_builds([first], 1)
    assert runs.reap_lost_builds(timedelta(0), MAX) == []
    db.session.commit()

    lost = db.session.get(DownloadSession, first)
    assert (lost.status, lost.message) == (
        "create_failed",
        f"Build lost {MAX} times; retry it from the run page.",
    )
    finished = db.session.get(DistributionRun, run.id)
    assert (finished.status, finished.sessions_done, finished.sessions_failed) == ("failed", 3, 1)
    assert finished.finished_at is not None
    assert finished.message == "1 package(s) could not be built."
    assert runs.reap_lost_builds(timedelta(0), MAX) == []  # nothing left to reap

    assert sessions.retry_failed(finished) == [first]
    db.session.commit()
    assert (lost.status, lost.build_attempts) == ("requested", 0)
    assert (finished.status, finished.finished_at, finished.message) == ("running", None, "")
    assert (finished.sessions_done, finished.sessions_failed) == (2, 0)
    builds.build_session(first)
    db.session.commit()
    db.session.refresh(finished)
    assert (finished.status, finished.sessions_done, finished.sessions_failed) == ("done", 3, 0)


def test_a_running_run_whose_closing_was_lost_is_closed():
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    first, *others = runs.plan_run(run.id)
    db.session.commit()
    # Sessions moved on without being counted, as when a run's bookkeeping went missing.
    db.session.execute(
        sa.update(DownloadSession).where(DownloadSession.id == first).values(status="create_failed")
    )
    db.session.execute(
        sa.update(DownloadSession).where(DownloadSession.id.in_(others)).values(status="available")
    )
    db.session.commit()

    assert runs.reap_lost_builds(timedelta(minutes=15), MAX) == []
    db.session.commit()

    closed = db.session.get(DistributionRun, run.id)
    assert (closed.status, closed.sessions_done, closed.sessions_failed) == ("failed", 3, 1)
    assert closed.finished_at is not None


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
