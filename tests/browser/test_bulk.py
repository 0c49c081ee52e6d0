"""HQ staff change registers in bulk in a real browser: filter, tick, preview, confirm twice."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.setup.models import OFFLINE, ChannelDatabase
from tests.browser.helpers import assert_accessible
from tests.setup.bulk.chain import small_chain

pytestmark = pytest.mark.browser


@pytest.fixture
def chain(app):
    """The bulk tests' small chain: HOUSTON-1's device activated, NOGROUP without a group."""
    with app.app_context():
        small_chain()
        db.session.remove()


def active_offline(app) -> list[str]:
    with app.app_context():
        stmt = sa.select(ChannelDatabase.name).filter_by(kind=OFFLINE, active=True)
        return sorted(db.session.scalars(stmt))


@pytest.mark.usefixtures("chain")
def test_hq_turns_offline_on_for_all_that_match_then_off_for_a_ticked_one(
    page, signed_in, shot, app
):
    signed_in("hq")
    page.goto("/registers/")
    page.get_by_label("Channel data group", exact=True).select_option("Stores")
    page.get_by_label("Support offline", exact=True).select_option("no")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("All 5 that match")).to_be_visible()
    shot(page, "01-filtered")

    page.get_by_label("Change", exact=True).select_option("support_offline_on")
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Switch Support offline on: 5 registers?"
    )
    assert_accessible(page)
    shot(page, "02-preview")
    assert active_offline(app) == ["HOUSTON-1"]

    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("[data-run-status]")).to_have_text("done")
    assert_accessible(page)
    shot(page, "03-operation")
    assert len(active_offline(app)) == 6

    page.goto("/registers/?store=HOUSTON")
    page.get_by_label("Tick HOUSTON-1").check()
    page.get_by_label("Change", exact=True).select_option("support_offline_off")
    page.get_by_label("The ticked rows").check()
    page.get_by_role("button", name="Preview the change").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Switch Support offline off: 1 register?"
    )
    page.get_by_role("button", name="Confirm").click()
    # HOUSTON-1's device has activated: the portal says so and asks again.
    expect(page.get_by_role("alert")).to_contain_text("have an activated device")
    assert_accessible(page)
    shot(page, "04-second-confirmation")
    assert "HOUSTON-1" in active_offline(app)

    page.get_by_role("button", name="Yes, also for the 1 activated devices").click()
    expect(page.locator("[data-run-status]")).to_have_text("done")
    assert "HOUSTON-1" not in active_offline(app)
