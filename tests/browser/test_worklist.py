"""A scheduler signs in to the worklist and retries a failed package with the keyboard alone."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.core.extensions import db
from portal.distribution import lifecycle
from portal.distribution.models import DownloadSession
from tests.browser.helpers import assert_accessible, focus_problem
from tests.conftest import PASSWORD
from tests.distribution.conftest import run_schedule, stores_group, tax_data  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("stores_group")]

MAX_PRESSES = 150


def _tab_to(page: Page, target) -> None:
    """Press Tab until the target has the focus; every stop must show where the focus is."""
    for _ in range(MAX_PRESSES):
        page.keyboard.press("Tab")
        problem = focus_problem(page)
        assert problem is None, f"on {page.url}: {problem}"
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target} on {page.url}")


@pytest.fixture
def given_up():
    """HOUSTON's package, failed to apply three times: the session the worklist shows."""
    run = run_schedule()
    session = db.session.scalar(
        sa.select(DownloadSession).filter_by(run_id=run.id).order_by(DownloadSession.id).limit(1)
    )
    for n in (1, 2, 3):
        lifecycle.record_failure(session, "apply_failed", f"table locked {n}")
    db.session.commit()
    return session.id


def test_scheduler_retries_a_failed_package_from_the_worklist_by_keyboard(
    page, make_user, shot, given_up
):
    page.emulate_media(reduced_motion="reduce")
    page.goto("/login")
    _tab_to(page, page.get_by_role("textbox", name="Email"))
    page.keyboard.type(make_user("scheduler"))
    _tab_to(page, page.get_by_role("textbox", name="Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/worklist/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Worklist")
    expect(page.get_by_role("main")).to_contain_text("Apply failed: 3 tries")
    expect(page.get_by_role("main")).to_contain_text("table locked 3")
    assert_accessible(page)
    shot(page, "01-worklist")

    _tab_to(page, page.get_by_role("button", name=f"Retry session {given_up}"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("main")).to_contain_text(f"Session {given_up} is requested again")
    expect(page.get_by_role("main")).to_contain_text("No failed session")
    shot(page, "02-retried")
    db.session.expire_all()
    session = db.session.get(DownloadSession, given_up)
    assert (session.status, session.failed_tries) == ("available", 0)
