"""A person's first minute: sign in, read the dashboard on desktop and tablet, sign out."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.factories import StoreFactory

pytestmark = pytest.mark.browser


def test_hq_signs_in_reads_the_dashboard_and_signs_out(page, signed_in, shot, app_ctx):
    StoreFactory(store_number="HOUSTON")
    email = signed_in("hq")

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text(email)
    stores_card = page.get_by_role("link", name=re.compile(r"^\s*1\s+Stores\s*$"))
    expect(stores_card).to_be_visible()
    shot(page, "dashboard")
    assert_accessible(page)

    # Desktop: the whole navigation shows and nothing scrolls sideways.
    expect(page.get_by_role("link", name="Registers", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Toggle navigation")).to_be_hidden()
    assert horizontal_overflow(page) == 0

    # Tablet: the navigation folds behind its toggle, still without sideways scrolling.
    page.set_viewport_size({"width": 768, "height": 1024})
    toggle = page.get_by_role("button", name="Toggle navigation")
    expect(toggle).to_be_visible()
    expect(page.get_by_role("link", name="Registers", exact=True)).to_be_hidden()
    assert horizontal_overflow(page) == 0
    shot(page, "tablet")
    toggle.click()
    # Bootstrap adds `show` once the menu has finished unfolding.
    expect(page.locator("#nav")).to_have_class(re.compile(r"\bshow\b"))
    expect(page.get_by_role("link", name="Registers", exact=True)).to_be_visible()
    shot(page, "tablet-menu")
    assert_accessible(page)

    page.get_by_role("button", name=re.compile(re.escape(email))).click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_contain_text("You are signed out.")
    shot(page, "signed-out")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_wrong_password_is_refused_on_the_live_form(page, make_user, shot):
    email = make_user("hq")
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    expect(page).to_have_url(re.compile(r"/login$"))
    shot(page, "refused")
    assert_accessible(page)
