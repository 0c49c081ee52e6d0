"""An auditor watches the offline sales, filters them, reviews one and exports CSV, in a browser."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from portal.auditor.models import Anomaly
from portal.core.extensions import db
from portal.core.models import utcnow
from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.transactions.auditor_setup import anomaly, local, priced, sold, stored, upload
from tests.transactions.conftest import stores  # noqa: F401  (the shared stores fixture)

pytestmark = pytest.mark.browser

CHARTS = ("offline_sales", "anomalies", "upload_delay")


def test_auditor_reviews_an_offline_sale_and_exports_csv(page, signed_in, shot, stores):  # noqa: F811
    now = utcnow()
    upload(
        "HOUSTON-1",
        sold("HOUSTON-1", 1, created_at=local(now - timedelta(days=3)), staff="000160"),
        sold("HOUSTON-1", 2, created_at=local(now - timedelta(hours=5)), offline=False),
    )
    suspicious = sold(
        "DALLAS-1", 1, created_at=local(now - timedelta(minutes=12)), **priced("87.5000")
    )
    upload("DALLAS-1", suspicious)
    sale_row = stored(suspicious["transaction_id"])
    found = anomaly(sale_row, "price_override", "Price typed in at the register")
    signed_in("auditor")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Auditor").click()
    _expect_heading(page, "Auditor", "auditor dashboard")
    expect(page.get_by_role("heading", name="Open anomalies: 1")).to_be_visible()
    for key in CHARTS:
        expect(page.locator(f"canvas[data-chart={key}]")).to_be_visible()
    drawn = page.evaluate(
        """keys => keys.map(key => {
            const chart = Chart.getChart(document.querySelector(`canvas[data-chart=${key}]`));
            if (!chart) return null;
            const points = chart.data.datasets.flatMap(d => d.data);
            return {type: chart.config.type, total: points.reduce((a, b) => a + b, 0)};
        })""",
        list(CHARTS),
    )
    assert all(drawn), f"a chart was not drawn: {drawn}"
    assert [d["total"] for d in drawn] == [2, 1, 3], drawn
    assert page.evaluate("() => document.querySelector('canvas[data-chart=anomalies]').width > 0")
    assert horizontal_overflow(page) == 0, "the dashboard scrolls sideways at 1280 px"
    shot(page, "01-dashboard-1280")
    assert_accessible(page)
    page.set_viewport_size({"width": 768, "height": 1024})
    expect(page.locator("canvas[data-chart=upload_delay]")).to_be_visible()
    shot(page, "02-dashboard-768")
    assert horizontal_overflow(page) == 0, "the dashboard scrolls sideways at 768 px"
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name="Transactions", exact=True).click()
    _expect_heading(page, "Transactions", "transaction list")
    rows = page.locator("tr[data-transaction]")
    expect(rows).to_have_count(3)
    page.get_by_label("Store").fill("DALLAS")
    page.get_by_label("Anomaly").select_option("price_override")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("87.50")
    expect(rows.nth(0)).to_contain_text("price override")
    shot(page, "03-filtered")
    assert_accessible(page)

    with page.expect_download() as waiting:
        page.get_by_role("link", name="Export CSV").click()
    download = waiting.value
    assert re.fullmatch(r"transactions-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    exported = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [row["transaction_id"] for row in exported] == [suspicious["transaction_id"]]
    assert exported[0]["total"] == "87.50"

    page.get_by_role("link", name="DALLAS-1-000001").click()
    _expect_heading(page, "Transaction DALLAS-1-000001", "transaction page")
    expect(page.get_by_text("Price typed in at the register")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Review status").select_option("flagged")
    page.get_by_label("Comment").fill("Price far below the shelf price; ask the store manager.")
    page.get_by_role("button", name="Save review").click()
    expect(page.get_by_role("alert")).to_contain_text("is marked flagged")
    review = page.get_by_role("region", name="Review")
    expect(review.locator("[data-review]")).to_contain_text("ask the store manager")
    expect(page.locator("h1 ~ [data-review-status]")).to_have_text("flagged")
    shot(page, "04-reviewed-1280")
    page.set_viewport_size({"width": 768, "height": 1024})
    shot(page, "05-reviewed-768")
    assert horizontal_overflow(page) == 0, "the transaction page scrolls sideways at 768 px"
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name=f"Review anomaly {found.id}").click()
    _expect_heading(page, f"Review anomaly {found.id}: price override", "anomaly review page")
    assert_accessible(page)
    page.goto("/anomalies/")
    expect(page.locator("tr[data-anomaly]")).to_have_count(1)
    assert_accessible(page)
    page.goto("/auditor/stores")
    expect(page.locator("tr[data-store]")).to_have_count(2)
    assert_accessible(page)
    page.goto("/upload-sessions/")
    expect(page.locator("tr[data-session]")).to_have_count(2)
    assert_accessible(page)
    db.session.expire_all()
    assert stored(suspicious["transaction_id"]).review_status == "flagged"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Anomaly)) == 1


def _expect_heading(page: Page, name, where: str) -> None:
    expect(page.get_by_role("heading", level=1), where).to_have_text(name)
