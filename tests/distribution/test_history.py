"""Bounded history: no session kept for a target with nothing new, old sessions pruned."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.config import load
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import history, parameters, tasks
from portal.distribution.models import DownloadSession
from portal.masterdata.tax import SalesTaxGroup, TaxRate
from tests.distribution.conftest import run_schedule, sessions_by_database

pytestmark = pytest.mark.usefixtures("stores_group")


def rename_group(code: str, name: str) -> None:
    group = db.session.scalar(sa.select(SalesTaxGroup).filter_by(code=code))
    group.name = name
    db.session.commit()


def all_sessions() -> list[DownloadSession]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(DownloadSession).order_by(DownloadSession.id)))


def age(sessions: list[DownloadSession], days: int, status: str = "applied") -> None:
    db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.id.in_([s.id for s in sessions]))
        .values(status=status, updated_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()


def test_a_run_with_nothing_new_counts_its_targets_and_moves_their_position_on():
    first = sessions_by_database(run_schedule())
    rename_group("WA", "Washington State")  # a new version, of Seattle's data only

    quiet = run_schedule()
    assert set(sessions_by_database(quiet)) == {"SEATTLE"}
    assert (quiet.sessions_total, quiet.sessions_done, quiet.sessions_no_data) == (3, 3, 2)
    assert quiet.status == "done"
    db.session.refresh(first["HOUSTON"])
    assert first["HOUSTON"].offered_through == quiet.watermark

    rate = db.session.scalar(sa.select(TaxRate).filter_by(tax_code="TX-STATE"))
    rate.rate = rate.rate + 1
    db.session.commit()
    houston = sessions_by_database(run_schedule())["HOUSTON"]

    # The package starts where the quiet run left Houston, not at its last package.
    assert (houston.kind, houston.base_version) == ("incremental", quiet.watermark)


def test_the_run_page_and_api_say_how_many_targets_had_nothing_new(client, login, token_for):
    run_schedule()
    quiet = run_schedule()
    login("auditor")

    page = client.get(f"/distribution/runs/{quiet.id}").text
    answer = client.get(f"/api/v1/runs/{quiet.id}", headers=token_for("auditor")).json

    assert '<span data-field="sessions_no_data">3</span> with nothing new' in page
    assert answer["progress"]["sessions_no_data"] == 3 and answer["packages"] == []


def test_pruning_keeps_each_targets_latest_session_and_its_position():
    run_schedule()
    old = all_sessions()
    run_schedule(full=True)
    middle = all_sessions()[len(old) :]
    run_schedule(full=True)
    newest = all_sessions()[len(old) + len(middle) :]
    age(old, 40)
    age(middle, 40)
    # Houston's latest failed to build: its position stays the middle (applied) session.
    (houston_failed,) = [s for s in newest if s.channel_database.name == "HOUSTON"]
    age([houston_failed], 40, status="create_failed")
    (houston_middle,) = [s for s in middle if s.channel_database.name == "HOUSTON"]

    removed = history.prune_sessions(timedelta(days=30))
    db.session.commit()

    kept = {s.id for s in all_sessions()}
    assert removed == len(old) + len(middle) - 1
    assert kept == {s.id for s in newest} | {houston_middle.id}


def test_pruning_keeps_recent_and_unfinished_sessions():
    run_schedule()
    run_schedule(full=True)
    sessions = all_sessions()
    age(sessions[:3], 40, status="available")  # still on their way to the targets
    age(sessions[3:], 5)

    assert history.prune_sessions(timedelta(days=30)) == 0
    assert len(all_sessions()) == 6


def test_beat_prunes_with_the_session_history_days_parameter(app):
    schedule = load(app.instance_path)["CELERY"]["beat_schedule"]
    assert schedule["session-history"]["task"] == "distribution.prune_history"
    run_schedule()
    first = all_sessions()
    run_schedule(full=True)
    age(first, 12)

    assert tasks.prune_history.apply().get() == 0  # 30 days by default
    parameters.update({"session_history_days": 10})
    db.session.commit()
    assert tasks.prune_history.apply().get() == 3
    assert len(all_sessions()) == 3
