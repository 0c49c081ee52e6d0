"""An invited person follows the mailed link in Chromium, chooses a password and signs in."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_invited_user_follows_the_mailed_link_and_signs_in(
    page,
    app,
    live_url,
    make_user,
    smtp_server,
    shot,
    monkeypatch,
):
    # The admin's invitation goes through the test app, which mails through the local server;
    # its links point at the live portal Chromium browses.
    monkeypatch.setitem(app.config, "PORTAL_URL", live_url)
    admin = app.test_client()
    with app.app_context():
        admin.post("/login", data={"email": make_user("admin"), "password": PASSWORD})
    with app.app_context():
        invited = admin.post("/users/invite", data={"email": "cleo@example.com", "role": "hq"})
    assert invited.status_code == 302

    link = smtp_server.link_in("cleo@example.com")
    assert link.startswith(live_url + "/password/invite?token=")
    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome to HQ Portal")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("cleo-chose-this-one")
    page.get_by_label("Repeat the new password").fill("cleo-chose-this-one")
    shot(page, "choose-password")
    page.get_by_role("button", name="Set my password").click()
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_contain_text("Your password is set")

    page.get_by_label("Email").fill("cleo@example.com")
    page.get_by_label("Password").fill("cleo-chose-this-one")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("cleo@example.com")

    # The link was for one use.
    page.goto(link)
    expect(page.get_by_role("heading", name=re.compile("410"))).to_be_visible()
