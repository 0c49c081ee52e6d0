"""A scheduler runs schedule 1080 with full data sync and follows it to 100%, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.distribution.models import DistributionRun
from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.distribution.conftest import build_run, stores_group, tax_data  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("stores_group")]

TABLET = {"width": 768, "height": 1024}


@pytest.mark.parametrize("viewport", [None, TABLET], ids=["desktop", "tablet"])
def test_scheduler_runs_1080_with_full_sync_and_watches_it_finish(page, signed_in, shot, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    signed_in("scheduler")
    page.goto("/distribution/schedules/1080")
    assert_accessible(page)
    shot(page, "01-schedule")

    page.get_by_label("Full data sync").check()
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/distribution/runs/\d+"))
    bar = page.get_by_role("progressbar", name="Packages built")
    expect(bar, "run page: the run has not started").to_have_attribute("aria-valuenow", "0")
    shot(page, "02-run-waiting")

    # A worker's part, done here so the page has something to follow.
    run_id = int(re.search(r"/runs/(\d+)", page.url).group(1))
    assert db.session.get(DistributionRun, run_id).full_sync
    assert build_run(run_id).status == "done"

    expect(bar, "run page: the bar never reached 100%").to_have_attribute(
        "aria-valuenow", "100", timeout=15_000
    )
    sessions = page.get_by_role("region", name="Download sessions")
    expect(sessions.get_by_role("row"), "run page: sessions missing").to_have_count(4)
    for store in ("HOUSTON", "DALLAS", "SEATTLE"):
        expect(sessions, "run page: a store's session is missing").to_contain_text(store)
    expect(sessions, "run page: full data sync gave no full package").to_contain_text("full")
    assert_accessible(page)
    assert horizontal_overflow(page) == 0, "the run page scrolls sideways"
    shot(page, "03-run-done")
