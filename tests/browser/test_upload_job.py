"""A scheduler runs the end-of-day upload job and sees which stores have not uploaded yet."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from portal.core.extensions import db
from portal.distribution import runs, upload_requests
from portal.distribution import services as distribution
from portal.setup.models import Store
from tests.browser.helpers import assert_accessible
from tests.distribution.conftest import build_run, stores_group, tax_data  # noqa: F401

pytestmark = pytest.mark.browser


def database_of(store_number: str) -> int:
    store = db.session.scalar(sa.select(Store).filter_by(store_number=store_number))
    return store.channel_database.id


def test_the_run_page_lists_the_stores_not_uploaded_yet(
    page,
    signed_in,
    shot,
    app_ctx,
    stores_group,  # noqa: F811
):
    distribution.create_schedule(
        {"code": "EOD", "name": "End of day", "jobs": ["P-0001"], "groups": ["Stores"]}
    )
    run = runs.request_run(distribution.get_schedule("EOD"))
    db.session.commit()
    build_run(run.id)
    # HOUSTON's server reports nothing waiting; DALLAS's still has sales waiting after 3 asks.
    upload_requests.answer_heartbeat(database_of("HOUSTON"), 0)
    for _ in range(4):
        upload_requests.answer_heartbeat(database_of("DALLAS"), 2)
    db.session.commit()
    signed_in("scheduler")

    page.goto(f"/distribution/runs/{run.id}")

    uploads = page.get_by_role("region", name="Uploads")
    expect(uploads).to_contain_text("1 done, 1 waiting, 1 failed")
    stores = uploads.get_by_role("table")
    expect(stores.get_by_role("row")).to_have_count(3)
    expect(stores.get_by_role("row").nth(1)).to_contain_text("DALLAS")
    expect(stores.get_by_role("row").nth(2)).to_contain_text("SEATTLE")
    expect(stores).not_to_contain_text("HOUSTON")
    shot(page, "01-upload-run")
    assert_accessible(page)
