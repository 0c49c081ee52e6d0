"""An auditor finds the shift with sales missing on the Reconciliation page, keyboard only."""

import re

import pytest
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.device_api.statement_schemas import DeviceStatementSchema
from portal.transactions import statements
from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.browser.test_keyboard import _press_on, _sign_in, _skip_to_content, _tab_to
from tests.transactions.auditor_setup import sold, upload
from tests.transactions.conftest import offline_database, stores  # noqa: F401

pytestmark = pytest.mark.browser


def close_shift(register: str, shift: str, first: int, last: int, day: str, previous=None):
    """A statement of sales of 11.98 paid cash, as the register's device sends it."""
    n = last - first + 1
    body = DeviceStatementSchema().load(
        {
            "register": register,
            "shift_id": shift,
            "opened_at": f"{day}T08:00:00-06:00",
            "closed_at": f"{day}T18:00:00-06:00",
            "first_sequence": first,
            "last_sequence": last,
            "counts": {"sale": n},
            "totals": {"sale": f"{11.98 * n:.2f}"},
            "payments": {"cash": f"{11.98 * n:.2f}"},
            "previous_hash": previous,
        }
    )
    received = statements.receive(offline_database(register), body)
    db.session.commit()
    return received.statement.statement_hash


def test_auditor_finds_the_missing_sales_with_the_keyboard(page, make_user, stores):  # noqa: F811
    page.emulate_media(reduced_motion="reduce")
    upload("HOUSTON-1", *(sold("HOUSTON-1", n) for n in (1, 2, 3, 4, 6)))
    first = close_shift("HOUSTON-1", "morning", 1, 3, "2026-11-20")
    close_shift("HOUSTON-1", "evening", 4, 7, "2026-11-21", previous=first)
    _sign_in(page, make_user("auditor"))

    page.goto("/auditor/")
    _skip_to_content(page)
    _press_on(page, page.get_by_role("link", name="Reconciliation"), "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reconciliation")
    days = page.locator("section[data-store-day]")
    expect(days).to_have_count(2)
    # Worst first: the day with two sales missing.
    expect(days.nth(0)).to_have_attribute("data-store-day", "HOUSTON 2026-11-21")
    evening = page.locator('tr[data-shift="evening"]')
    expect(evening).to_contain_text("sales missing")
    expect(evening).to_contain_text("5, 7")
    expect(evening).to_contain_text("23.96")
    assert_accessible(page)

    state = page.get_by_label("State", exact=True)
    _tab_to(page, state)
    page.keyboard.press("ArrowDown")  # Any -> Sales missing
    _press_on(page, page.get_by_role("button", name="Filter"), "Enter")
    expect(page).to_have_url(re.compile(r"state=sales_missing"))
    expect(page.locator("tr[data-shift]")).to_have_count(1)
    page.set_viewport_size({"width": 390, "height": 800})
    assert horizontal_overflow(page) == 0, "the reconciliation page scrolls sideways at 390 px"


def test_navigation_fits_one_row_at_1366_and_lists_fit_a_phone(page, signed_in, stores):  # noqa: F811
    signed_in("admin")
    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto("/")
    tops = page.evaluate(
        "() => [...document.querySelectorAll('#nav .nav-item')]"
        ".map(item => Math.round(item.getBoundingClientRect().top))"
    )
    assert len(set(tops)) == 1, f"the menu takes more than one row at 1366 px: {tops}"
    assert horizontal_overflow(page) == 0
    page.set_viewport_size({"width": 390, "height": 800})
    for path in ("/masterdata/product/", "/masterdata/worker/", "/stores/", "/registers/"):
        assert page.goto(path).status == 200, path

        assert horizontal_overflow(page) == 0, f"{path} scrolls sideways at 390 px"
