"""User and token rules: nobody locks themselves out; tokens belong to their owner."""

import pytest

from portal.auth import services as auth
from portal.core.errors import NotFound, ValidationFailed
from portal.core.extensions import db
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("app_ctx")


def admin(email: str = "admin@example.com"):
    user = auth.create_user(email, "admin", PASSWORD)
    db.session.commit()
    return user


@pytest.mark.parametrize(
    ("change", "field"),
    [({"active": False}, "active"), ({"role": "hq"}, "role"), ({"role": "auditor"}, "role")],
)
def test_admin_cannot_deactivate_or_demote_themselves(change, field):
    me = admin()

    with pytest.raises(ValidationFailed) as refused:
        auth.update_user(me, change, acting=me)

    assert set(refused.value.fields) == {field}
    assert "ask another admin" in refused.value.message
    db.session.rollback()
    assert (me.role, me.active) == ("admin", True)


def test_admin_may_still_edit_their_own_name_and_password():
    me = admin()

    auth.update_user(me, {"name": "Ada", "role": "admin", "active": True}, acting=me)

    assert me.name == "Ada"


def test_another_admin_may_deactivate_and_demote_an_admin():
    me, other = admin(), admin("other@example.com")

    auth.update_user(other, {"role": "hq", "active": False}, acting=me)

    assert (other.role, other.active) == ("hq", False)


def test_tokens_of_lists_newest_first_and_get_token_checks_the_owner():
    owner, stranger = admin(), admin("stranger@example.com")
    first, _ = auth.create_token(owner, "first")
    second, _ = auth.create_token(owner, "second")
    auth.create_token(stranger, "theirs")

    assert [token.name for token in auth.tokens_of(owner)] == ["second", "first"]
    assert auth.get_token(first.id, owner) is first
    with pytest.raises(NotFound):
        auth.get_token(first.id, stranger)
    with pytest.raises(NotFound):
        auth.get_token(999999, owner)
    assert second.revoked_at is None


def test_get_user_by_id():
    me = admin()
    assert auth.get_user_by_id(me.id) is me
    with pytest.raises(NotFound):
        auth.get_user_by_id(999999)
