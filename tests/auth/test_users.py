"""User administration pages: list, create, edit, deactivate; admins only."""

from contextlib import contextmanager

import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.auth import services as auth
from portal.auth.models import ApiToken, User
from portal.core.extensions import db
from tests.conftest import PASSWORD

NEW_PASSWORD = "another-good-password"


@contextmanager
def another_browser(app):
    """A client sharing nothing with `client`: its own app context, so no cached signed-in user."""
    with app.app_context():
        yield app.test_client()


def user(app, email: str) -> User:
    with app.app_context():
        found = auth.get_user(email)
        db.session.expunge_all()
    return found


def test_list_shows_role_status_and_last_sign_in_and_searches(app, client, login, make_user):
    admin = login("admin")
    make_user("auditor", "avery@example.com")
    quiet = make_user("hq", "quiet@example.com")
    with app.app_context():
        auth.update_user(auth.get_user(quiet), {"active": False})
        db.session.commit()

    everyone = client.get("/users/").get_data(as_text=True)
    found = client.get("/users/?q=avery").get_data(as_text=True)

    assert admin in everyone and "quiet@example.com" in everyone
    assert "deactivated" in everyone and "never" in everyone
    assert user(app, admin).last_login_at.strftime("%Y-%m-%d %H:%M") in everyone
    assert "avery@example.com" in found
    assert "quiet@example.com" not in found


def test_list_is_paginated(app, client, login, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    login("admin")
    for name in ("a", "b", "c"):
        make_user("hq", f"{name}-page@example.com")

    first = client.get("/users/?q=-page").get_data(as_text=True)
    second = client.get("/users/?q=-page&page=2").get_data(as_text=True)

    assert "a-page@example.com" in first and "c-page@example.com" not in first
    assert "c-page@example.com" in second and "a-page@example.com" not in second
    assert "3 in all" in first


def test_admin_creates_a_user_who_can_sign_in(app, client, login):
    admin = login("admin")

    response = client.post(
        "/users/new",
        data={
            "email": "Harper@Example.com",
            "name": "Harper",
            "role": "hq",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    created = user(app, "harper@example.com")
    assert (created.name, created.role, created.active) == ("Harper", "hq", True)
    with app.app_context():
        assert auth.authenticate("harper@example.com", NEW_PASSWORD) is not None
        entry = db.session.scalar(sa.select(AuditEntry).filter_by(entity_key="harper@example.com"))
        assert (entry.action, entry.actor, entry.source) == ("create", admin, "web")


def test_create_refusals_show_on_the_form_and_store_nothing(app, client, login):
    login("admin")
    base = {"email": "new@example.com", "role": "hq", "password": NEW_PASSWORD}

    mismatch = client.post("/users/new", data={**base, "confirm": "something else"})
    short = client.post("/users/new", data={**base, "password": "short", "confirm": "short"})
    bad_role = client.post("/users/new", data={**base, "role": "owner", "confirm": NEW_PASSWORD})

    assert "The two passwords differ." in mismatch.get_data(as_text=True)
    assert "At least 10 characters." in short.get_data(as_text=True)
    assert "Not a valid choice" in bad_role.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(User.id).filter_by(email="new@example.com")) is None


def test_duplicate_email_is_refused(app, client, login, make_user):
    login("admin")
    make_user("auditor", "taken@example.com")

    response = client.post(
        "/users/new",
        data={
            "email": "taken@example.com",
            "role": "admin",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 200
    assert "already exists" in response.get_data(as_text=True)
    assert user(app, "taken@example.com").role == "auditor"


def test_admin_changes_role_name_and_password(app, client, login, make_user):
    login("admin")
    email = make_user("auditor")
    user_id = user(app, email).id

    response = client.post(
        f"/users/{user_id}/",
        data={
            "name": "Sam",
            "role": "scheduler",
            "active": "y",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    changed = user(app, email)
    assert (changed.name, changed.role, changed.active) == ("Sam", "scheduler", True)
    with app.app_context():
        assert auth.authenticate(email, NEW_PASSWORD) is not None
        assert auth.authenticate(email, PASSWORD) is None


def test_empty_new_password_keeps_the_old_one(app, client, login, make_user):
    login("admin")
    email = make_user("hq")

    client.post(
        f"/users/{user(app, email).id}/", data={"name": "Kept", "role": "hq", "active": "y"}
    )

    assert user(app, email).name == "Kept"
    with app.app_context():
        assert auth.authenticate(email, PASSWORD) is not None


def test_deactivated_user_can_no_longer_sign_in(app, client, login, make_user):
    login("admin")
    email = make_user("hq")

    client.post(f"/users/{user(app, email).id}/", data={"name": "", "role": "hq"})

    assert user(app, email).active is False
    with another_browser(app) as other:
        refused = other.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 200
    assert "deactivated" in refused.get_data(as_text=True)


def test_admin_cannot_deactivate_or_demote_themselves(app, client, login):
    admin = login("admin")
    admin_id = user(app, admin).id

    deactivate = client.post(f"/users/{admin_id}/", data={"name": "Me", "role": "admin"})
    demote = client.post(f"/users/{admin_id}/", data={"name": "Me", "role": "hq", "active": "y"})

    assert "You cannot deactivate your own account" in deactivate.get_data(as_text=True)
    assert "You cannot remove your own admin role" in demote.get_data(as_text=True)
    unchanged = user(app, admin)
    assert (unchanged.role, unchanged.active, unchanged.name) == ("admin", True, "")


def test_unknown_user_is_404(client, login):
    login("admin")
    assert client.get("/users/999999/").status_code == 404


def test_user_page_lists_their_tokens_and_admin_revokes_one(app, client, login, make_user):
    login("admin")
    email = make_user("hq")
    with app.app_context():
        owner = auth.get_user(email)
        token, secret = auth.create_token(owner, "Stock export")
        db.session.commit()
        user_id, token_id, prefix = owner.id, token.id, token.prefix

    page = client.get(f"/users/{user_id}/").get_data(as_text=True)
    confirm = client.get(f"/users/{user_id}/tokens/{token_id}/revoke")
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None
    revoked = client.post(f"/users/{user_id}/tokens/{token_id}/revoke")

    assert "Stock export" in page and prefix in page
    assert "Revoke API token" in confirm.get_data(as_text=True)
    assert revoked.status_code == 302
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None
        assert auth.user_for_token(secret) is None
        entry = db.session.scalar(sa.select(AuditEntry).filter_by(action="revoke"))
        assert entry.entity_key == f"{email}/{prefix}"


def test_token_of_another_user_cannot_be_revoked_through_the_wrong_user(
    app, client, login, make_user
):
    login("admin")
    with app.app_context():
        owner, stranger = auth.get_user(make_user("hq")), auth.get_user(make_user("hq"))
        token, _ = auth.create_token(owner, "Mine")
        db.session.commit()
        stranger_id, token_id = stranger.id, token.id

    response = client.post(f"/users/{stranger_id}/tokens/{token_id}/revoke")

    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None
