"""Invitations and password resets by one-time links, mailed through a real SMTP server."""

import logging
import time

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from portal.auth.models import SignIn, User
from portal.core.extensions import db
from tests.conftest import PASSWORD

NEW_PASSWORD = "a-brand-new-password"


class Browser:
    """A test client whose every request runs in an app context of its own.

    A request reuses an app context left active, with its `g` (and the user signed in there),
    so a second client's requests would pass for the first's.
    """

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def get(self, *args, **kwargs):
        """GET in a fresh context."""
        with self.app.app_context():
            return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        """POST in a fresh context."""
        with self.app.app_context():
            return self.client.post(*args, **kwargs)


def choose(client, link: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    """Post a password on the link's page."""
    path = link.split("://", 1)[1].split("/", 1)[1]
    return client.post(f"/{path}", data={"password": password, "confirm": confirm or password})


def signs_in(client, email: str, password: str) -> bool:
    """Whether the sign-in form accepts these credentials."""
    return client.post("/login", data={"email": email, "password": password}).status_code == 302


def test_admin_invites_by_mail_and_the_link_works_once(app, login, smtp_server):
    admin = Browser(app)
    admin.post("/login", data={"email": login("admin"), "password": PASSWORD})
    response = admin.post(
        "/users/invite", data={"email": "Ana@Example.com", "name": "Ana", "role": "auditor"}
    )
    assert response.status_code == 302
    link = smtp_server.link_in("ana@example.com")
    assert "72 hours" in smtp_server.wait_for("ana@example.com").get_content()
    anonymous = Browser(app)
    page = anonymous.get(link.split("localhost", 1)[1])
    assert page.status_code == 200 and "ana@example.com" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert not signs_in(anonymous, "ana@example.com", NEW_PASSWORD)
    too_short = choose(anonymous, link, "short")
    assert too_short.status_code == 200 and "At least 10 characters" in too_short.text
    assert choose(anonymous, link, NEW_PASSWORD, "another-password").status_code == 200
    assert choose(anonymous, link).status_code == 302
    assert signs_in(anonymous, "ana@example.com", NEW_PASSWORD)

    again = Browser(app).get(link.split("localhost", 1)[1])
    assert again.status_code == 410 and "used already" in again.text
    with app.app_context():
        ana = db.session.scalar(sa.select(User).filter_by(email="ana@example.com"))
        assert (ana.role, ana.name) == ("auditor", "Ana")


def test_without_a_mail_server_the_admin_sees_the_link_and_the_log_has_it(
    app, client, login, caplog
):
    login("admin")
    with caplog.at_level(logging.WARNING):
        response = client.post("/users/invite", data={"email": "bo@example.com", "role": "hq"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    link = response.text.split('id="link" type="text" value="', 1)[1].split('"', 1)[0]
    assert "/password/invite?token=" in link
    assert link in caplog.text
    assert choose(Browser(app), link.replace("&amp;", "&")).status_code == 302


def test_reset_mails_a_link_and_says_the_same_for_unknown_addresses(
    app,
    client,
    make_user,
    smtp_server,
):
    email = make_user("hq")
    known = client.post("/password/forgot", data={"email": email}, follow_redirects=True)
    unknown = client.post(
        "/password/forgot", data={"email": "nobody@example.com"}, follow_redirects=True
    )
    assert known.status_code == unknown.status_code == 200
    assert "If an active account has that address" in known.text
    assert known.text == unknown.text

    link = smtp_server.link_in(email)
    assert "/password/reset?token=" in link
    # An invitation's page does not take a reset link.
    invite_page = link.replace("/password/reset?", "/password/invite?").split("localhost", 1)[1]
    assert client.get(invite_page).status_code == 410
    assert choose(Browser(app), link).status_code == 302
    assert signs_in(Browser(app), email, NEW_PASSWORD)
    assert not signs_in(Browser(app), email, PASSWORD)
    assert [m["To"] for m in smtp_server.messages] == [email]


def test_a_password_set_through_a_link_ends_every_sign_in(app, client, make_user, smtp_server):
    email = make_user("hq")
    client = Browser(app)
    assert signs_in(client, email, PASSWORD)
    assert client.get("/").status_code == 200
    Browser(app).post("/password/forgot", data={"email": email})
    assert choose(Browser(app), smtp_server.link_in(email)).status_code == 302
    assert client.get("/").status_code == 302  # sent to sign in again
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignIn)) == 0


def test_deactivated_users_get_no_link(app, client, make_user, smtp_server):
    email = make_user("hq")
    with app.app_context():
        db.session.scalar(sa.select(User).filter_by(email=email)).active = False
        db.session.commit()
    client.post("/password/forgot", data={"email": email})
    time.sleep(0.3)  # the same answer; give a mail that should not exist the time to arrive
    assert smtp_server.messages == []


def test_an_expired_link_is_refused(app, client, make_user, smtp_server, monkeypatch):
    email = make_user("hq")
    three_hours_ago = int(time.time()) - 3 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: three_hours_ago)
    client.post("/password/forgot", data={"email": email})
    link = smtp_server.link_in(email)
    monkeypatch.undo()
    response = client.get(link.split("localhost", 1)[1])
    assert response.status_code == 410 and "expired" in response.text


def test_reset_requests_are_rate_limited(client, make_user):
    email = make_user("hq")
    answers = [client.post("/password/forgot", data={"email": email}).status_code for _ in range(6)]
    assert answers == [302] * 5 + [429]


@pytest.mark.parametrize("role", ["hq", "scheduler", "auditor"])
def test_only_admins_invite(client, login, role):
    login(role)
    response = client.post("/users/invite", data={"email": "x@example.com", "role": "hq"})
    assert response.status_code == 403


def test_no_reset_mail_in_production_without_portal_url(app, make_user, smtp_server, monkeypatch):
    email = make_user("hq")
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    answer = Browser(app).post(
        "/password/forgot", data={"email": email}, headers={"Host": "evil.example"}
    )
    assert answer.status_code == 302
    time.sleep(0.3)
    assert smtp_server.messages == []
    monkeypatch.setitem(app.config, "PORTAL_URL", "https://hq.example.com")
    Browser(app).post("/password/forgot", data={"email": email}, headers={"Host": "evil.example"})
    assert smtp_server.link_in(email).startswith("https://hq.example.com/password/reset?token=")


def test_invitations_are_rate_limited_per_admin(app, login):
    admin = Browser(app)
    admin.post("/login", data={"email": login("admin"), "password": PASSWORD})
    answers = [
        admin.post("/users/invite", data={"email": f"u{n}@example.com", "role": "hq"}).status_code
        for n in range(31)
    ]
    assert answers == [200] * 30 + [429]
