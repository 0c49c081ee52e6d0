"""An auditor reads a conflict side by side and reviews sales in bulk, keyboard only."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.auditor.models import Anomaly, Review
from portal.core.extensions import db
from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.browser.test_keyboard import _press_on, _sign_in, _skip_to_content, _tab_to
from tests.transactions.auditor_setup import sold, stored, upload
from tests.transactions.conftest import stores  # noqa: F401

pytestmark = pytest.mark.browser


def test_conflict_diff_and_bulk_review_with_the_keyboard(page, make_user, stores):  # noqa: F811
    page.emulate_media(reduced_motion="reduce")
    first = sold("HOUSTON-1", 1, payments=[{"method": "CARD", "amount": "11.98"}])
    upload("HOUSTON-1", first, sold("HOUSTON-1", 3), sold("HOUSTON-1", 4))
    upload("HOUSTON-1", dict(first, payments=[{"method": "cash", "amount": "11.98"}]))
    upload("DALLAS-1", sold("DALLAS-1", 1))
    conflicted = stored(first["transaction_id"]).id
    _sign_in(page, make_user("auditor"))

    # The conflict: both versions side by side, the payment method marked.
    page.goto(f"/transactions/{conflicted}")
    diff = page.locator("[data-conflict] table")
    expect(diff).to_be_visible()
    marked = page.locator("tr[data-differs]")
    expect(marked).to_have_count(1)
    expect(marked).to_contain_text("Payment 1 method")
    expect(marked).to_contain_text("CARD")
    expect(marked).to_contain_text("cash")
    expect(page.locator('[data-field="total"]')).to_have_text("$11.98")
    assert_accessible(page)

    # Reviewed with its open anomaly (the conflict) resolved in the same step.
    _skip_to_content(page)
    _tab_to(page, page.get_by_label("Review status"))
    page.keyboard.press("ArrowDown")  # reviewed -> flagged
    _tab_to(page, page.get_by_role("textbox", name="Comment"))
    page.keyboard.type("Card slip found")
    resolve = page.get_by_label(re.compile("Also resolve its 1 open anomaly"))
    _press_on(page, resolve, "Space")
    _press_on(page, page.get_by_role("button", name="Save review"), "Enter")
    expect(page.locator(".alert-success")).to_contain_text("marked flagged")
    db.session.expire_all()
    conflict = db.session.scalar(sa.select(Anomaly).filter_by(kind="conflict"))
    assert conflict.review_status == "resolved"

    # Bulk: every HOUSTON-1 sale matching the filter, one comment.
    page.goto("/transactions/?register=HOUSTON-1")
    expect(page.locator("[data-match-count]")).to_have_attribute("data-match-count", "3")
    _skip_to_content(page)
    _press_on(page, page.get_by_label(re.compile("All 3 matching this filter")), "Space")
    _tab_to(page, page.locator("#bulk-comment"))
    page.keyboard.type("Store audit, November")
    _press_on(page, page.get_by_role("button", name="Review", exact=True), "Enter")
    expect(page.locator(".alert-success")).to_contain_text("3 transaction(s) marked reviewed")
    expect(page.locator('tr[data-transaction] [data-review-status="reviewed"]')).to_have_count(3)
    db.session.expire_all()
    comments = db.session.scalars(
        sa.select(Review.comment).where(Review.comment == "Store audit, November")
    ).all()
    assert len(comments) == 3
    page.set_viewport_size({"width": 390, "height": 800})
    assert horizontal_overflow(page) == 0, "the transactions list scrolls sideways at 390 px"
    receipt = page.locator("tr[data-transaction] a").first
    box = receipt.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"receipt off screen: {box}"
