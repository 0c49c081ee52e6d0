"""Keyboard only: sign in, edit an offline profile, run a schedule, review a sale, delete.

No mouse: every step is Tab, Shift+Tab, Space, Enter, an arrow key or typing, and after every key
the element with the focus must show it (an outline or a focus ring) and be on screen.
"""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect

from portal.auditor.models import Review
from portal.auth import services as auth
from portal.core.extensions import db
from portal.distribution.models import DistributionRun
from portal.setup.models import OfflineProfile
from portal.setup.offline_profiles import services as offline_profiles
from tests.browser.helpers import assert_accessible, focus_problem
from tests.conftest import PASSWORD
from tests.distribution.conftest import stores_group, tax_data  # noqa: F401
from tests.factories import ProfileFactory
from tests.transactions.auditor_setup import anomaly, priced, sold, stored, upload
from tests.transactions.conftest import stores  # noqa: F401  (the shared stores fixture)

pytestmark = pytest.mark.browser

# More presses than any of these pages needs to reach a control: past it, Tab never gets there.
MAX_PRESSES = 150


@pytest.fixture
def keyboard_page(page):
    """The page, with Bootstrap's transitions off so a focus ring is drawn in full at once."""
    page.emulate_media(reduced_motion="reduce")
    return page


def test_hq_edits_an_offline_profile_and_deletes_another(keyboard_page, make_user, app_ctx):
    page = keyboard_page
    profile = ProfileFactory(name="Texas offline", offline_timeout_s=20).name
    spare = ProfileFactory(name="Spare").name
    _sign_in(page, make_user("hq"))

    page.goto(f"/offline-profiles/{profile}")
    _skip_to_content(page)
    _press_on(page, page.get_by_role("link", name="Edit settings"), "Enter")
    _expect_heading(page, f"Edit {profile}")
    timeout = page.get_by_label("Offline switch time-out (seconds)")
    _tab_to(page, timeout)
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("0")
    page.keyboard.press("Enter")
    # Refused: the focus is on the field, which says it is invalid and reads out its error.
    expect(timeout).to_be_focused()
    expect(timeout).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#{timeout.get_attribute('id')}-error-1")
    expect(error).to_be_visible()
    expect(timeout).to_have_accessible_description(re.compile(re.escape(error.inner_text())))
    assert_accessible(page)
    db.session.expire_all()
    assert offline_profiles.get_profile(profile).offline_timeout_s == 20

    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type("45")
    _press_on(page, page.get_by_role("button", name="Save"), "Space")
    expect(page.get_by_role("alert")).to_contain_text("saved")
    db.session.expire_all()
    assert offline_profiles.get_profile(profile).offline_timeout_s == 45

    _tab_to(page, page.get_by_role("link", name="Edit scopes"))
    page.keyboard.press("Enter")
    _expect_heading(page, f"Offline scopes of {profile}")
    tax = page.get_by_role("region", name=re.compile(r"Sales tax$"))
    tables = tax.locator("summary")
    _press_on(page, tables, "Enter")
    expect(tables.locator("xpath=..")).to_have_attribute("open", "")
    box = tax.get_by_role("checkbox", name="item_tax_group")
    expect(box).to_be_checked()
    _press_on(page, box, "Space")
    expect(box).not_to_be_checked()
    assert_accessible(page)
    # Back up to the scope's name: Enter in a text box saves the scopes.
    _tab_to(page, tax.get_by_role("textbox", name="Name"), back=True)
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text(f"Offline scopes of '{profile}' saved.")
    db.session.expire_all()
    saved = {s.name: s.tables for s in offline_profiles.get_profile(profile).scopes}
    assert "item_tax_group" not in saved["Sales tax"]
    assert "tax_code" in saved["Sales tax"]

    # A delete asks first; its confirmation is a page of its own, walked the same way.
    page.goto(f"/offline-profiles/{spare}")
    _skip_to_content(page)
    _press_on(page, page.get_by_role("link", name="Delete"), "Enter")
    _expect_heading(page, f"Delete offline profile '{spare}'?")
    assert_accessible(page)
    _press_on(page, page.get_by_role("button", name=f"Delete offline profile '{spare}'"), "Enter")
    expect(page.get_by_role("alert")).to_contain_text(f"Offline profile '{spare}' deleted.")
    db.session.expire_all()
    assert db.session.scalar(sa.select(OfflineProfile).filter_by(name=spare)) is None


@pytest.mark.usefixtures("stores_group")
def test_scheduler_runs_a_schedule_with_full_data_sync(keyboard_page, make_user):
    page = keyboard_page
    _sign_in(page, make_user("scheduler"), home="Worklist")

    page.goto("/distribution/schedules/1080")
    _skip_to_content(page)
    full = page.get_by_role("switch", name="Full data sync")
    _press_on(page, full, "Space")
    expect(full).to_be_checked()
    _press_on(page, page.get_by_role("button", name="Run now"), "Enter")
    page.wait_for_url(re.compile(r"/distribution/runs/\d+$"))

    run_id = int(page.url.rsplit("/", 1)[1])
    run = db.session.get(DistributionRun, run_id)
    assert run is not None and run.full_sync
    assert run.schedule.code == "1080"


def test_auditor_flags_a_sale_with_a_comment(keyboard_page, make_user, stores):  # noqa: F811
    page = keyboard_page
    suspicious = sold("DALLAS-1", 1, **priced("87.5000"))
    upload("DALLAS-1", suspicious)
    sale = stored(suspicious["transaction_id"])
    anomaly(sale, "price_override", "Price typed in at the register")
    _sign_in(page, make_user("auditor"))

    page.goto(f"/transactions/{sale.id}")
    _skip_to_content(page)
    status = page.get_by_role("combobox", name="Review status")
    _tab_to(page, status)
    expect(status).to_have_value("reviewed")
    page.keyboard.press("ArrowDown")
    expect(status).to_have_value("flagged")
    _tab_to(page, page.get_by_role("textbox", name="Comment"))
    page.keyboard.type("Price far below the shelf price; ask the store manager.")
    _press_on(page, page.get_by_role("button", name="Save review"), "Enter")
    expect(page.get_by_role("alert")).to_contain_text("is marked flagged")

    db.session.expire_all()
    assert stored(suspicious["transaction_id"]).review_status == "flagged"
    review = db.session.scalar(sa.select(Review).filter_by(subject_id=sale.id))
    assert review.status == "flagged"
    assert review.comment == "Price far below the shelf price; ask the store manager."


def test_focus_check_sees_a_hidden_focus(keyboard_page):
    # The check must fail where a stylesheet takes the focus indicator away.
    page = keyboard_page
    page.goto("/login")
    # Set from a script, as the Content-Security-Policy refuses an injected stylesheet.
    page.evaluate(
        """() => document.querySelectorAll("input").forEach(input => {
            input.style.setProperty("outline", "none", "important");
            input.style.setProperty("box-shadow", "none", "important");
        })"""
    )
    _tab_to(page, page.get_by_role("textbox", name="Email"), check=False)
    assert "neither an outline nor a focus ring" in focus_problem(page)


def _sign_in(page: Page, email: str, home: str = "Dashboard") -> None:
    """Sign in with the keyboard alone, landing on `home`; the sign-in is recorded on the user."""
    page.goto("/login")
    _tab_to(page, page.get_by_role("textbox", name="Email"))
    page.keyboard.type(email)
    _tab_to(page, page.get_by_role("textbox", name="Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    _expect_heading(page, home)
    db.session.expire_all()
    assert auth.get_user(email).last_login_at is not None


def _skip_to_content(page: Page) -> None:
    """Tab to the skip link and follow it: the next Tab starts inside the page's content."""
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    _expect_focus_visible(page)
    page.keyboard.press("Enter")


def _press_on(page: Page, target: Locator, key: str) -> None:
    """Tab to the target, then press the key on it."""
    _tab_to(page, target)
    page.keyboard.press(key)


def _tab_to(page: Page, target: Locator, back: bool = False, check: bool = True) -> None:
    """Press Tab (Shift+Tab when `back`) until the target has the focus, checking each stop."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(MAX_PRESSES):
        page.keyboard.press(key)
        if check:
            _expect_focus_visible(page)
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{key} never reached {target} on {page.url}")


def _expect_focus_visible(page: Page) -> None:
    problem = focus_problem(page)
    assert problem is None, f"on {page.url}: {problem}"


def _expect_heading(page: Page, name: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
