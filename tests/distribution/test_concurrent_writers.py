"""No change is skipped when HQ writers commit while a build runs, or commit out of order."""

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.core.extensions import db
from portal.distribution import builds, runs
from portal.distribution import services as distribution
from portal.masterdata.tax import TaxRate
from tests.distribution.conftest import package_lines, run_schedule, sessions_by_database

pytestmark = pytest.mark.usefixtures("stores_group")


def set_rate(session: Session, tax_code: str, rate: str) -> None:
    session.scalar(sa.select(TaxRate).filter_by(tax_code=tax_code)).rate = Decimal(rate)
    session.flush()


def rates_in(session) -> dict[str, str]:
    return {
        line["key"]["tax_code"]: line["row"]["rate"] for line in package_lines(session)["tax_rate"]
    }


def test_change_committed_after_the_watermark_comes_with_the_next_run():
    run_schedule()
    run = runs.request_run(distribution.get_schedule("1080"))
    db.session.commit()
    session_ids = runs.plan_run(run.id)
    db.session.commit()

    with Session(db.engine) as writer:
        set_rate(writer, "TX-STATE", "7.00")
        writer.commit()

    for session_id in session_ids:
        builds.build_session(session_id)
        db.session.commit()
    db.session.refresh(run)
    assert "HOUSTON" not in sessions_by_database(run) and run.sessions_no_data == 3

    houston = sessions_by_database(run_schedule())["HOUSTON"]
    assert rates_in(houston) == {"TX-STATE": "7.0000"}


def test_writers_committing_during_a_build_and_out_of_order_are_not_skipped(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time; out-of-order commits need PostgreSQL")
    run_schedule()

    first = Session(db.engine)
    set_rate(first, "TX-STATE", "7.00")  # holds the change counter until it commits

    second_done = threading.Event()

    def second_writer():
        with app.app_context(), Session(db.engine) as second:
            set_rate(second, "WA-STATE", "8.00")  # waits for the first writer's commit
            second.commit()
        second_done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert not second_done.wait(0.5), "the second writer must wait for the first"

    during = run_schedule()  # built while both writers are open
    assert sessions_by_database(during) == {} and during.sessions_no_data == 3

    first.commit()
    first.close()
    thread.join(10)
    assert second_done.is_set()

    after = sessions_by_database(run_schedule())
    assert rates_in(after["HOUSTON"]) == {"TX-STATE": "7.0000", "WA-STATE": "8.0000"}
