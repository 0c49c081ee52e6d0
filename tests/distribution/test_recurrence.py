"""Recurrences in cron syntax: validation, the next run in a time zone across DST, and the tick."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.distribution import runs
from portal.distribution import services as distribution
from portal.distribution.models import DistributionRun

pytestmark = pytest.mark.usefixtures("stores_group")

CHICAGO = ZoneInfo("America/Chicago")


def on_chicago_clock(moment: datetime) -> str:
    return moment.astimezone(CHICAGO).strftime("%a %Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Winter: 02:00 Central Standard Time is 08:00 UTC.
        ("0 2 * * *", datetime(2026, 12, 1, 12, 0, tzinfo=UTC), "Wed 2026-12-02 02:00 CST"),
        # Friday after 06:30: the next weekday is Monday.
        ("30 6 * * 1-5", datetime(2026, 12, 4, 13, 0, tzinfo=UTC), "Mon 2026-12-07 06:30 CST"),
        # Summer: the same wall-clock time, an hour earlier in UTC.
        ("0 2 * * *", datetime(2026, 7, 1, 12, 0, tzinfo=UTC), "Thu 2026-07-02 02:00 CDT"),
    ],
    ids=["nightly", "weekdays", "summer"],
)
def test_next_run_is_read_on_the_clock_of_the_time_zone(expression, after, expected):
    moment = distribution.next_cron_time(expression, "America/Chicago", after)

    assert moment.tzinfo == UTC
    assert on_chicago_clock(moment) == expected


def test_a_time_that_spring_skips_runs_once_as_the_clocks_go_forward():
    # On 8 March 2026 Chicago's clocks jump from 02:00 to 03:00: 02:30 never happens.
    saturday_noon = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)

    first = distribution.next_cron_time("30 2 * * *", "America/Chicago", saturday_noon)
    second = distribution.next_cron_time("30 2 * * *", "America/Chicago", first)

    assert on_chicago_clock(first) == "Sun 2026-03-08 03:00 CDT"
    assert on_chicago_clock(second) == "Mon 2026-03-09 02:30 CDT"
    assert first == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)


def test_the_hour_autumn_repeats_runs_once():
    # On 1 November 2026 Chicago's clocks go back from 02:00 CDT to 01:00 CST: 01:30 happens twice.
    saturday_noon = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)

    first = distribution.next_cron_time("30 1 * * *", "America/Chicago", saturday_noon)
    second = distribution.next_cron_time("30 1 * * *", "America/Chicago", first)
    # Beat was down through the first 01:30 and is back at 01:10 in the repeated hour.
    back_in_repeated_hour = distribution.next_cron_time(
        "30 1 * * *", "America/Chicago", datetime(2026, 11, 1, 7, 10, tzinfo=UTC)
    )

    assert on_chicago_clock(first) == "Sun 2026-11-01 01:30 CDT"
    assert on_chicago_clock(second) == "Mon 2026-11-02 01:30 CST"
    assert back_in_repeated_hour == second
    # An interval-like expression is still read on the wall clock: no second pass of 01:xx.
    quarter = distribution.next_cron_time(
        "*/15 * * * *", "America/Chicago", datetime(2026, 11, 1, 6, 50, tzinfo=UTC)
    )
    assert on_chicago_clock(quarter) == "Sun 2026-11-01 02:00 CST"


@pytest.mark.parametrize(
    ("change", "fields", "message"),
    [
        ({"cron": "0 2 * *"}, {"cron": distribution.CRON_FORMAT}, "'0 2 * *' is not valid"),
        ({"cron": "0 0 0 2 * *"}, {"cron": distribution.CRON_FORMAT}, "is not valid"),
        ({"cron": "61 2 * * *"}, {"cron": distribution.CRON_FORMAT}, "is not valid"),
        ({"cron": "@daily"}, {"cron": distribution.CRON_FORMAT}, "is not valid"),
        ({"cron": "0 2 * * every"}, {"cron": distribution.CRON_FORMAT}, "is not valid"),
        ({"cron": "0 0 31 2 *"}, {"cron": "matches no date"}, "never falls due"),
        ({"cron": "0 " * 101}, {"cron": "At most 200 characters."}, "too long"),
        (
            {"cron": "0 2 * * *", "interval_minutes": 60},
            {"interval_minutes": "Leave empty", "cron": "Leave empty"},
            "not both",
        ),
        ({"cron": "0 2 * * *", "time_zone": "Mars/Olympus"}, {"time_zone": "IANA"}, "Mars"),
    ],
    ids=["four-fields", "six-fields", "minute-61", "alias", "word", "31-feb", "long", "both", "tz"],
)
def test_a_recurrence_that_cannot_be_read_is_refused_on_its_field(change, fields, message):
    with pytest.raises(ValidationFailed) as refused:
        distribution.create_schedule({"code": "NIGHTLY", "jobs": ["1040"], **change})

    assert message in refused.value.message
    assert set(refused.value.fields) == set(fields)
    for field, words in fields.items():
        assert words in refused.value.fields[field]


def test_a_cron_expression_is_kept_with_single_spaces():
    schedule = distribution.create_schedule(
        {"code": "NIGHTLY", "cron": "  30  6 * *\t1-5 ", "time_zone": " America/Chicago "}
    )

    assert (schedule.cron, schedule.time_zone) == ("30 6 * * 1-5", "America/Chicago")
    assert schedule.interval_minutes is None
    assert schedule.next_run_at.astimezone(CHICAGO).strftime("%H:%M") == "06:30"
    assert schedule.next_run_at > utcnow()


def test_giving_one_recurrence_replaces_the_other_and_sets_the_next_run():
    schedule = distribution.get_schedule("1080")
    distribution.update_schedule(schedule, {"interval_minutes": 30})
    assert (schedule.interval_minutes, schedule.cron) == (30, None)

    distribution.update_schedule(schedule, {"cron": "0 12 * * *", "time_zone": "America/Chicago"})
    assert (schedule.interval_minutes, schedule.cron) == (None, "0 12 * * *")
    assert schedule.next_run_at.astimezone(CHICAGO).strftime("%H:%M") == "12:00"

    distribution.update_schedule(schedule, {"interval_minutes": 45})
    assert (schedule.interval_minutes, schedule.cron) == (45, None)
    assert timedelta(minutes=44) < schedule.next_run_at - utcnow() <= timedelta(minutes=45)

    distribution.update_schedule(schedule, {"interval_minutes": None})
    assert (schedule.interval_minutes, schedule.cron, schedule.next_run_at) == (None, None, None)


def test_disabling_clears_the_next_run_and_enabling_sets_it_again():
    schedule = distribution.get_schedule("1080")
    distribution.update_schedule(schedule, {"cron": "0 12 * * *", "time_zone": "America/Chicago"})
    db.session.commit()

    distribution.update_schedule(schedule, {"enabled": False})
    assert schedule.next_run_at is None
    distribution.update_schedule(schedule, {"enabled": True})
    assert schedule.next_run_at > utcnow()
    assert schedule.next_run_at.astimezone(CHICAGO).strftime("%H:%M") == "12:00"


def test_the_audit_trail_records_a_change_of_recurrence():
    schedule = distribution.get_schedule("1080")
    distribution.update_schedule(schedule, {"cron": "0 2 * * *", "time_zone": "America/Chicago"})
    db.session.commit()

    (entry,) = db.session.scalars(
        sa.select(AuditEntry).filter_by(
            entity_type="distribution_schedule", entity_key="1080", action="update"
        )
    )
    assert (entry.before["cron"], entry.after["cron"]) == (None, "0 2 * * *")
    assert (entry.before["time_zone"], entry.after["time_zone"]) == ("UTC", "America/Chicago")
    assert entry.before["next_run_at"] is None and entry.after["next_run_at"] is not None


def test_the_tick_runs_a_cron_schedule_when_due_and_sets_its_next_time():
    schedule = distribution.get_schedule("1080")
    distribution.update_schedule(schedule, {"cron": "0 12 * * *", "time_zone": "America/Chicago"})
    db.session.commit()
    assert runs.due_runs() == []  # not yet due: noon in Chicago is still ahead

    # Beat was down for more than a day: two noons went by.
    schedule.next_run_at = utcnow() - timedelta(days=1, hours=1)
    db.session.commit()
    before = utcnow()

    (run_id,) = runs.due_runs()
    db.session.commit()

    # One run for the missed noons, not one per missed slot.
    assert list(db.session.scalars(runs.runs_query(schedule_code="1080"))) == [
        db.session.get(DistributionRun, run_id)
    ]
    db.session.refresh(schedule)
    assert before < schedule.next_run_at <= before + timedelta(days=1)
    assert schedule.next_run_at.astimezone(CHICAGO).strftime("%H:%M") == "12:00"
    assert runs.due_runs() == [run_id]  # still waiting: handed over again, no second run
