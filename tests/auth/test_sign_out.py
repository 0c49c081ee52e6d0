"""Sign-ins end for good: on sign-out, everywhere, on a new password and on deactivation.

Each browser is a test client of its own with real cookies, and each of its requests runs in
a fresh application context, so nothing a request loaded is remembered for the next one (the
`client` fixture keeps its last context pushed, which other clients would share). A stolen cookie
is one copied out of a browser and replayed, alone, from a fresh client.
"""

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.auth import services as auth
from portal.auth.models import SignIn
from portal.core.extensions import db
from tests.conftest import PASSWORD

NEW_PASSWORD = "another-good-password"
SESSION = "session"
REMEMBER = "remember_token"


def browser(app, email: str | None = None, remember: bool = False):
    """A browser of its own; signed in as `email` through the sign-in form when given."""
    client = app.test_client()
    if email:
        data = {"email": email, "password": PASSWORD} | ({"remember": "y"} if remember else {})
        assert client.post("/login", data=data).status_code == 302
    return client


def cookie(client, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found else None


def replayed(app, name: str, value: str):
    """A fresh browser carrying nothing but one copied cookie."""
    client = app.test_client()
    client.set_cookie(name, value)
    return client


def signed_in(client) -> bool:
    """Whether the browser gets a page only signed-in users get, not the sign-in form."""
    return client.get("/tokens/").status_code == 200


def user_id(app, email: str) -> int:
    with app.app_context():
        return auth.get_user(email).id


def test_sign_out_ends_this_browsers_session_even_for_a_copied_cookie(app, make_user):
    email = make_user("hq")
    here = browser(app, email)
    stolen = cookie(here, SESSION)
    assert signed_in(replayed(app, SESSION, stolen))

    assert here.post("/logout").status_code == 302

    assert not signed_in(here)
    assert not signed_in(replayed(app, SESSION, stolen))


def test_sign_out_ends_the_remember_cookie_even_a_copied_one(app, make_user):
    email = make_user("hq")
    here = browser(app, email, remember=True)
    stolen = cookie(here, REMEMBER)
    assert stolen and signed_in(replayed(app, REMEMBER, stolen))

    here.post("/logout")

    assert cookie(here, REMEMBER) is None
    assert not signed_in(here)
    assert not signed_in(replayed(app, REMEMBER, stolen))


def test_sign_out_leaves_the_users_other_browsers_signed_in(app, make_user):
    email = make_user("hq")
    here, there = browser(app, email), browser(app, email, remember=True)

    here.post("/logout")

    assert signed_in(there)
    assert signed_in(replayed(app, REMEMBER, cookie(there, REMEMBER)))


def test_sign_out_everywhere_asks_first_then_ends_every_browser(app, make_user):
    email = make_user("scheduler")
    here, there = browser(app, email, remember=True), browser(app, email, remember=True)
    stolen = [(name, cookie(b, name)) for b in (here, there) for name in (SESSION, REMEMBER)]

    account = here.get("/account/").get_data(as_text=True)
    confirm = here.get("/account/sign-out-everywhere")
    assert signed_in(there)
    answer = here.post("/account/sign-out-everywhere")

    assert "Sign out everywhere" in account
    assert "Sign out everywhere?" in confirm.get_data(as_text=True)
    assert answer.status_code == 302 and answer.location.endswith("/login")
    assert cookie(here, REMEMBER) is None
    assert not signed_in(here) and not signed_in(there)
    for name, value in stolen:
        assert not signed_in(replayed(app, name, value)), name
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).filter_by(action="sign_out_everywhere"))
        assert (entry.entity_key, entry.actor, entry.source) == (email, email, "web")
    assert signed_in(browser(app, email))  # the password still works


def test_admin_signs_another_user_out_everywhere(app, make_user):
    admin = make_user("admin")
    client = browser(app, admin)
    email = make_user("auditor")
    there = browser(app, email, remember=True)
    stolen = cookie(there, REMEMBER)
    page = f"/users/{user_id(app, email)}/"

    shown = client.get(page).get_data(as_text=True)
    confirm = client.get(f"{page}sign-out-everywhere").get_data(as_text=True)
    answer = client.post(f"{page}sign-out-everywhere")

    assert "Sign out everywhere" in shown
    assert email in confirm
    assert answer.status_code == 302 and answer.location.endswith(page)
    assert not signed_in(there)
    assert not signed_in(replayed(app, REMEMBER, stolen))
    assert signed_in(client)  # the admin's own sign-in is untouched
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).filter_by(action="sign_out_everywhere"))
        assert (entry.entity_key, entry.actor) == (email, admin)


def test_only_admins_sign_someone_else_out(app, make_user):
    client = browser(app, make_user("hq"))
    email = make_user("auditor")
    there = browser(app, email)

    refused = client.post(f"/users/{user_id(app, email)}/sign-out-everywhere")

    assert refused.status_code == 403
    assert signed_in(there)


def test_changing_ones_own_password_signs_out_the_other_browsers_only(app, make_user):
    admin = make_user("admin")
    client = browser(app, admin)
    there = browser(app, admin, remember=True)
    stolen = cookie(there, REMEMBER)

    changed = client.post(
        f"/users/{user_id(app, admin)}/",
        data={"role": "admin", "active": "y", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )

    assert changed.status_code == 302
    assert signed_in(client)
    assert not signed_in(there)
    assert not signed_in(replayed(app, REMEMBER, stolen))


def test_admin_password_reset_signs_the_user_out_everywhere(app, make_user):
    client = browser(app, make_user("admin"))
    email = make_user("hq")
    there = browser(app, email, remember=True)
    stolen = cookie(there, REMEMBER)

    client.post(
        f"/users/{user_id(app, email)}/",
        data={"role": "hq", "active": "y", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )

    assert not signed_in(there)
    assert not signed_in(replayed(app, REMEMBER, stolen))


def test_other_changes_leave_the_user_signed_in(app, make_user):
    client = browser(app, make_user("admin"))
    email = make_user("hq")
    there = browser(app, email)

    client.post(f"/users/{user_id(app, email)}/", data={"name": "Kim", "role": "hq", "active": "y"})

    assert signed_in(there)


def test_deactivation_signs_the_user_out_everywhere_for_good(app, make_user):
    client = browser(app, make_user("admin"))
    email = make_user("hq")
    there = browser(app, email, remember=True)
    stolen = cookie(there, REMEMBER)

    page = f"/users/{user_id(app, email)}/"

    client.post(page, data={"role": "hq"})
    assert not signed_in(there)
    client.post(page, data={"role": "hq", "active": "y"})

    # Reactivated, they sign in afresh: what was signed in before stays signed out.
    assert not signed_in(there)
    assert not signed_in(replayed(app, REMEMBER, stolen))
    assert signed_in(browser(app, email))


def test_cookies_are_same_site_lax_and_remember_me_lasts_30_days(app, make_user):
    response = app.test_client().post(
        "/login", data={"email": make_user("hq"), "password": PASSWORD, "remember": "y"}
    )

    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in (SESSION, REMEMBER):
        flags = {part.strip().lower() for part in cookies[name].split(";")}
        assert {"samesite=lax", "httponly"} <= flags, cookies[name]
    remember = dict(
        part.strip().split("=", 1) for part in cookies[REMEMBER].split(";")[1:] if "=" in part
    )
    expires = parsedate_to_datetime(remember["Expires"])
    assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)
    assert expires >= datetime.now(UTC) + timedelta(days=29)


def test_a_sign_in_ends_on_the_server_after_30_days_whatever_the_cookie_says(app, make_user):
    email = make_user("hq")
    here = browser(app, email, remember=True)
    stolen = cookie(here, REMEMBER)
    with app.app_context():
        sign_in = db.session.scalar(sa.select(SignIn))
        assert sign_in.expires_at - sign_in.created_at == timedelta(days=30)
        sign_in.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()

    assert not signed_in(here)
    assert not signed_in(replayed(app, REMEMBER, stolen))


def test_sign_out_everywhere_leaves_api_tokens_working(app, make_user):
    email = make_user("hq")
    with app.app_context():
        _, secret = auth.create_token(auth.get_user(email), "export")
        db.session.commit()
    here = browser(app, email)

    here.post("/account/sign-out-everywhere")

    assert not signed_in(here)
    answer = app.test_client().get("/api/v1/stores", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
