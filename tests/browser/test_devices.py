"""HQ staff give a register's device its activation code and watch the fleet, in a browser."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.core.extensions import db
from portal.core.models import utcnow
from portal.device_api import credentials, fleet
from portal.device_api.models import DeviceToken
from portal.device_api.tasks import sample_fleet
from tests.browser.helpers import assert_accessible, horizontal_overflow
from tests.device_api import fleet_setup as setup
from tests.factories import StoreFactory

pytestmark = pytest.mark.browser

REGISTER = "HOUSTON-1"


def test_hq_activates_a_register_and_watches_the_fleet(page, signed_in, shot, app_ctx):
    StoreFactory(store_number="HOUSTON", name="Houston Galleria")
    StoreFactory(store_number="DALLAS", name="Dallas Uptown")
    database = setup.offline_database("HOUSTON", register_number=REGISTER)
    silent = setup.offline_database("DALLAS", setup.minutes_ago(120))
    setup.heartbeat(silent, setup.minutes_ago(45))
    signed_in("hq")

    page.goto(f"/channel-databases/{database.id}")
    device = page.get_by_role("region", name="Device")
    expect(device, "database page: device state").to_contain_text("Never activated")
    expect(device).to_contain_text("No device has activated this database yet.")
    assert_accessible(page)

    page.get_by_role("button", name="Generate activation code").click()
    _expect_heading(page, f"Activation code for {REGISTER}", "activation code page")
    code = page.get_by_label("Activation code").input_value()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code), code
    command = page.get_by_label("Command").input_value()
    assert command.endswith(f"activate --database {REGISTER} --code {code}"), command
    assert command.startswith("portal-agent --url http://127.0.0.1:"), command
    expect(page.get_by_role("alert")).to_contain_text("shown only this once")
    shot(page, "01-activation-code")
    assert_accessible(page)

    # The device trades the code for its token and reports in, as portal-agent would.
    token, _, _ = credentials.activate(REGISTER, code)
    db.session.commit()
    setup.heartbeat(database, setup.minutes_ago(1), app_version="portal-agent 1.0")
    for minutes in (60, 40, 20):
        fleet.take_sample(utcnow() - timedelta(minutes=minutes))
    db.session.commit()
    sample_fleet()

    page.get_by_role("link", name="Done").click()
    device = page.get_by_role("region", name="Device")
    expect(device, "database page after activation").to_contain_text("Online")
    expect(device).to_contain_text("portal-agent 1.0")
    expect(page.get_by_role("row", name=re.compile(re.escape(token.prefix)))).to_contain_text(
        "active"
    )
    shot(page, "02-activated")

    page.get_by_role("link", name=REGISTER, exact=True).click()
    _expect_heading(page, f"Register {REGISTER}", "register page")
    expect(page.get_by_text("portal-agent 1.0"), "register page: no device status").to_be_visible()
    shot(page, "02-register")
    assert_accessible(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
    _expect_heading(page, "Devices", "devices dashboard")
    chart = page.get_by_role("img", name="Registers per state, last 24 hours")
    expect(chart, "dashboard: no chart").to_be_visible()
    expect(page.locator("[data-fleet-chart] polyline")).to_have_count(4)
    rows = page.locator("tr[data-store]")
    expect(rows, "dashboard: stores not worst first").to_have_count(2)
    expect(rows.nth(0)).to_contain_text("DALLAS")
    expect(rows.nth(1)).to_contain_text("HOUSTON")
    shot(page, "03-dashboard")
    assert_accessible(page)
    assert horizontal_overflow(page) == 0, "the dashboard scrolls sideways"

    page.get_by_text("The chart's figures as a table").click()
    table = page.get_by_role("table", name=re.compile("Registers per state at each sample"))
    expect(table).to_be_visible()
    expect(table.get_by_role("row")).to_have_count(5)  # the header and four samples
    assert_accessible(page)

    page.get_by_role("searchbox", name="Store number or name").fill("houston")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("HOUSTON")

    page.goto(f"/channel-databases/{database.id}")
    page.get_by_role("link", name=f"Revoke token {token.prefix}").click()
    _expect_heading(page, re.compile("Revoke device token"), "revoke confirmation")
    assert_accessible(page)
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("alert")).to_contain_text("is revoked.")
    shot(page, "04-revoked")
    db.session.expire_all()
    assert db.session.get(DeviceToken, token.id).revoked_at is not None


def _expect_heading(page: Page, name, where: str) -> None:
    expect(page.get_by_role("heading", level=1), where).to_have_text(name)


def test_the_register_page_shows_what_its_device_says_to_help_the_store(
    page, signed_in, shot, app_ctx
):
    StoreFactory(store_number="HOUSTON", name="Houston Galleria")
    database = setup.offline_database("HOUSTON", setup.minutes_ago(600), register_number=REGISTER)
    setup.heartbeat(
        database,
        setup.minutes_ago(2),
        mode="offline",
        offline_since=setup.minutes_ago(30),
        mode_since=setup.minutes_ago(30),
        pending_uploads=12,
        database_bytes=48_200_000,
        free_disk_bytes=1_500_000_000,
        last_error="a heartbeat: Cannot reach the portal: timed out",
        sync_paused=True,
    )
    signed_in("auditor")

    page.goto(f"/registers/{REGISTER}")

    device = page.locator("#content")
    expect(device).to_contain_text("The device reports that it is working offline.")
    expect(device).to_contain_text("Paused")
    expect(device).to_contain_text("the device downloads no packages")
    expect(device).to_contain_text("48.2 MB")
    expect(device).to_contain_text("1.5 GB")
    expect(device).to_contain_text("Cannot reach the portal: timed out")
    expect(device).to_contain_text("12 (as last reported)")
    shot(page, "register-device")
    assert_accessible(page)
