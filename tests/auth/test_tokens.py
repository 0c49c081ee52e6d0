"""API tokens page: every signed-in user lists, creates and revokes their own tokens."""

import re

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.auth import services as auth
from portal.auth.models import ApiToken
from portal.core.extensions import db
from tests.conftest import ROLES

SECRET = re.compile(r'value="(hqp_[^"]+)"')


def tokens(app) -> list[ApiToken]:
    with app.app_context():
        found = db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)).all()
        db.session.expunge_all()
    return found


@pytest.mark.parametrize("role", ROLES)
def test_any_role_creates_a_token_whose_secret_is_shown_once(app, client, login, role):
    email = login(role)

    form = client.get("/tokens/new")
    created = client.post("/tokens/new", data={"name": "Stock export"})

    assert form.status_code == 200
    page = created.get_data(as_text=True)
    secret = SECRET.search(page).group(1)
    assert "shown only this once" in page
    assert created.headers["Cache-Control"] == "no-store"
    (token,) = tokens(app)
    assert (token.name, token.revoked_at) == ("Stock export", None)
    assert secret.startswith(token.prefix) and secret not in (token.token_hash, token.prefix)
    with app.app_context():
        assert auth.user_for_token(secret).email == email
    listing = client.get("/tokens/").get_data(as_text=True)
    assert "Stock export" in listing and token.prefix in listing
    assert secret not in listing


def test_token_name_is_required(app, client, login):
    login("hq")

    response = client.post("/tokens/new", data={"name": ""})

    assert response.status_code == 200
    assert "This field is required." in response.get_data(as_text=True)
    assert tokens(app) == []


def test_list_shows_only_own_tokens_with_last_use_and_revocation(app, client, login, make_user):
    email, stranger = login("auditor"), make_user("hq")
    with app.app_context():
        mine, secret = auth.create_token(auth.get_user(email), "Used one")
        old, _ = auth.create_token(auth.get_user(email), "Old one")
        auth.revoke_token(old)
        auth.create_token(auth.get_user(stranger), "Someone else's")
        auth.user_for_token(secret)
        db.session.commit()
        used_at = mine.last_used_at.strftime("%Y-%m-%d %H:%M")

    page = client.get("/tokens/").get_data(as_text=True)

    assert "Used one" in page and used_at in page
    assert "Old one" in page and "revoked" in page
    assert "Someone else" not in page


def test_revoke_asks_first_then_refuses_the_token(app, client, login):
    email = login("scheduler")
    with app.app_context():
        token, secret = auth.create_token(auth.get_user(email), "Short-lived")
        db.session.commit()
        token_id, key = token.id, f"{email}/{token.prefix}"

    confirm = client.get(f"/tokens/{token_id}/revoke")
    still_active = tokens(app)[0].revoked_at
    revoked = client.post(f"/tokens/{token_id}/revoke")

    assert "Revoke API token" in confirm.get_data(as_text=True)
    assert still_active is None
    assert revoked.status_code == 302
    assert tokens(app)[0].revoked_at is not None
    with app.app_context():
        assert auth.user_for_token(secret) is None
        entry = db.session.scalar(sa.select(AuditEntry).filter_by(action="revoke"))
        assert (entry.entity_key, entry.actor, entry.source) == (key, email, "web")
    api = client.get("/api/v1/stores", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401


def test_another_users_token_cannot_be_revoked(app, client, login, make_user):
    login("admin")
    with app.app_context():
        token, _ = auth.create_token(auth.get_user(make_user("hq")), "Not yours")
        db.session.commit()
        token_id = token.id

    page = client.get(f"/tokens/{token_id}/revoke")
    response = client.post(f"/tokens/{token_id}/revoke")

    assert page.status_code == 404
    assert response.status_code == 404
    assert tokens(app)[0].revoked_at is None
