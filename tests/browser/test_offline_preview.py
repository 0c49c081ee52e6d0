"""HQ reads what offline databases will receive before switching offline on, in a browser."""

from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from portal.distribution.preview import profile_preview
from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.distribution.conftest import tax_data  # noqa: F401  (the chain's tax master data)
from tests.distribution.preview_setup import PROFILE, profile, seed_chain, store

pytestmark = pytest.mark.browser


def test_hq_picks_a_store_and_reads_the_first_packages_size(page, signed_in, shot, tax_data):  # noqa: F811
    seed_chain()
    signed_in("hq")

    page.goto(f"/offline-profiles/{quote(PROFILE)}")
    preview = page.get_by_role("region", name="What an offline database receives")
    expect(preview).to_contain_text("Store HOUSTON: each offline database receives")
    assert_accessible(page)
    shot(page, "profile preview, first store")

    picker = preview.get_by_role("combobox", name="Store")
    picker.fill("OUTLET")
    picker.press("Enter")

    outlet = profile_preview(profile(), store("OUTLET"))
    expect(preview).to_contain_text("Store OUTLET: each offline database receives")
    expect(preview).to_contain_text(f"{outlet.rows_total:,} rows")
    product = preview.get_by_role("row").filter(has_text="product").first
    expect(product).to_contain_text("1040")
    assert horizontal_overflow(page) == 0
    assert_accessible(page)
    shot(page, "profile preview, chosen store")
