"""A small chain drill against a live portal: set up through HQ's API, outages, nothing lost."""

import re
import threading

import pytest
from sqlalchemy.exc import OperationalError

from portal.agent.cli import main
from portal.auth import services as auth
from portal.core.extensions import db
from tests.agent.portal import build_waiting_runs
from tests.conftest import PASSWORD


@pytest.fixture
def builder(app):
    """Builds the runs the portal queues as they come, as a worker would."""
    stop = threading.Event()

    def build() -> None:
        with app.app_context():
            while not stop.wait(0.3):
                try:
                    build_waiting_runs()
                except OperationalError:
                    # SQLite busy with the portal's writes: a worker would try again too.
                    db.session.rollback()
                db.session.remove()

    thread = threading.Thread(target=build, name="builder", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


@pytest.fixture
def hq_token(hq) -> str:
    """An admin's API token."""
    user = auth.create_user("drill@example.com", "admin", PASSWORD)
    _, secret = auth.create_token(user, "drill")
    db.session.commit()
    return secret


def test_a_small_drill_loses_nothing_and_follows_the_profile(
    live_url, hq_token, builder, tmp_path, capsys
):
    code = main(
        [
            "--state",
            str(tmp_path / "unused.sqlite"),
            "drill",
            "--url",
            live_url,
            "--token",
            hq_token,
            "--stores",
            "2",
            "--registers",
            "2",
            "--minutes",
            "0.4",
            "--sales-per-minute",
            "60",
            "--time-scale",
            "0.02",
            "--cut-share",
            "0.5",
            "--seed",
            "3",
            "--folder",
            str(tmp_path / "drill"),
        ]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    assert "Drill passed." in out and "Errors: 0." in out
    made, received = map(int, re.search(r"Sales made (\d+), received at HQ (\d+)", out).groups())
    assert made == received > 0
    assert "missing 0, duplicated 0, unknown 0" in out
    rows = re.findall(r"^(DRILL\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    assert len(rows) == 4
    cut = [row for row in rows if row[4] == "1"]
    assert len(cut) == 2
    # Each register cut off switched offline, sold there, and came back.
    assert all(int(row[3]) > 0 and int(row[5]) >= 1 and int(row[6]) >= 1 for row in cut)
