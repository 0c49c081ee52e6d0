"""Register pages through real HTTP, above all the Support offline switch."""

import html

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.models import OFFLINE, ChannelDatabase, Register
from tests.factories import GroupFactory, ProfileFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def committed_register(number: str) -> Register | None:
    # A rollback first, so only what the request committed is seen.
    db.session.rollback()
    return db.session.scalar(sa.select(Register).filter_by(register_number=number))


def offline_databases() -> list[ChannelDatabase]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(ChannelDatabase).filter_by(kind=OFFLINE)))


def test_list_shows_store_offline_state_profile_and_database(client, login):
    ProfileFactory(name="Store default")
    StoreFactory(store_number="HOUSTON", offline_profile="Store default")
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    RegisterFactory(register_number="HOUSTON-2", store="HOUSTON")
    login("hq")

    page = text(client.get("/registers/"))

    first = page[page.index(">HOUSTON-1<") : page.index(">HOUSTON-2<")]
    (database,) = offline_databases()
    assert 'href="/stores/HOUSTON"' in first
    assert ">On<" in first and "Store default" in first and "(store default)" in first
    assert f'href="/channel-databases/{database.id}">HOUSTON-1</a>' in first
    assert ">Active<" in first
    second = page[page.index(">HOUSTON-2<") :]
    assert ">Off<" in second and "/channel-databases/" not in second


def test_list_filters_by_store_and_searches_numbers(client, login):
    StoreFactory(store_number="HOUSTON")
    StoreFactory(store_number="SEATTLE")
    for number, store in (("HOU-1", "HOUSTON"), ("HOU-2", "HOUSTON"), ("SEA-1", "SEATTLE")):
        RegisterFactory(register_number=number, store=store)
    login("hq")

    houston = text(client.get("/registers/?store=houston"))
    searched = text(client.get("/registers/?q=2"))
    both = text(client.get("/registers/?store=HOUSTON&q=1"))

    assert ">HOU-1<" in houston and ">HOU-2<" in houston and ">SEA-1<" not in houston
    assert 'Registers of store <span class="mono">HOUSTON</span>' in houston
    assert ">HOU-2<" in searched and ">HOU-1<" not in searched
    assert ">HOU-1<" in both and ">SEA-1<" not in both and ">HOU-2<" not in both


def test_list_is_paginated_keeping_the_filter(client, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    StoreFactory(store_number="HOUSTON")
    for number in ("R-1", "R-2", "R-3"):
        RegisterFactory(register_number=number, store="HOUSTON")
    login("hq")

    first = text(client.get("/registers/?store=HOUSTON"))
    second = text(client.get("/registers/?store=HOUSTON&page=2"))

    assert ">R-1<" in first and ">R-2<" in first and ">R-3<" not in first
    assert ">R-3<" in second and ">R-1<" not in second
    assert 'href="/registers/?store=HOUSTON&page=2"' in first


def test_detail_explains_what_turning_support_offline_on_does(client, login):
    StoreFactory(store_number="HOUSTON", channel_data_group=GroupFactory(name="Stores").name)
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON")
    login("hq")

    page = text(client.get("/registers/HOUSTON-1"))

    assert "creates an offline channel database in the store's channel data group" in page
    assert "Stores" in page
    assert "Turn Support offline on" in page
    assert "This register has no offline database." in page


def test_support_offline_on_creates_the_offline_database_in_the_store_group(client, login):
    group = GroupFactory(name="Stores")
    StoreFactory(store_number="HOUSTON", channel_data_group="Stores")
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON")
    login("hq")

    response = client.post("/registers/HOUSTON-1/support-offline", data={"enabled": "on"})

    assert response.headers["Location"] == "/registers/HOUSTON-1"
    (database,) = offline_databases()
    assert committed_register("HOUSTON-1").support_offline
    assert (database.name, database.active) == ("HOUSTON-1", True)
    assert database.channel_data_group.id == group.id
    page = text(client.get("/registers/HOUSTON-1"))
    assert "offline database HOUSTON-1 is active in channel data group Stores" in page
    assert "Turn Support offline off" in page
    assert f'href="/channel-databases/{database.id}"' in page


def test_turning_support_offline_off_deactivates_and_keeps_the_database(client, login):
    RegisterFactory(register_number="HOUSTON-1", support_offline=True)
    login("hq")

    response = client.post(
        "/registers/HOUSTON-1/support-offline", data={"enabled": "off"}, follow_redirects=True
    )

    (database,) = offline_databases()
    assert not database.active
    assert not committed_register("HOUSTON-1").support_offline
    page = text(response)
    assert "offline database HOUSTON-1 is deactivated and kept" in page
    assert "Turn Support offline on" in page and ">Inactive<" in page


def test_support_offline_is_refused_when_the_store_has_no_group(client, login):
    StoreFactory(store_number="LOOSE", channel_data_group=None)
    RegisterFactory(register_number="LOOSE-1", store="LOOSE")
    login("hq")

    detail = text(client.get("/registers/LOOSE-1"))
    response = client.post(
        "/registers/LOOSE-1/support-offline", data={"enabled": "on"}, follow_redirects=True
    )

    assert "Store LOOSE has no channel data group" in detail
    assert (
        "Store 'LOOSE' has no channel data group; assign one to the store before enabling "
        "Support offline." in text(response)
    )
    assert not committed_register("LOOSE-1").support_offline
    assert offline_databases() == []


def test_support_offline_switch_rejects_an_unknown_state(client, login):
    RegisterFactory(register_number="R-1")
    login("hq")

    response = client.post("/registers/R-1/support-offline", data={"enabled": "maybe"})

    assert response.status_code == 400
    assert offline_databases() == []


def test_new_register_form_preselects_the_store(client, login):
    StoreFactory(store_number="HOUSTON", name="Houston Galleria")
    StoreFactory(store_number="SEATTLE")
    login("hq")

    page = text(client.get("/registers/new?store=HOUSTON"))

    assert '<option selected value="HOUSTON">HOUSTON · Houston Galleria</option>' in page
    assert "— none: use the store's default —" in page


def test_create_register_with_support_offline_through_the_form(client, login):
    StoreFactory(store_number="HOUSTON")
    profile = ProfileFactory(name="Own profile")
    login("hq")

    data = {
        "register_number": "houston-9",
        "store": "HOUSTON",
        "offline_profile": "Own profile",
        "support_offline": "y",
        "active": "y",
    }
    response = client.post("/registers/new", data=data)

    assert response.headers["Location"] == "/registers/HOUSTON-9"
    register = committed_register("HOUSTON-9")
    assert register.store.store_number == "HOUSTON"
    assert register.offline_profile.id == profile.id
    assert register.support_offline and register.active
    assert [d.name for d in offline_databases()] == ["HOUSTON-9"]


def test_create_register_shows_the_error_and_saves_nothing(client, login):
    StoreFactory(store_number="HOUSTON")
    login("hq")

    data = {"register_number": "BAD NUMBER", "store": "HOUSTON", "offline_profile": ""}
    response = client.post("/registers/new", data=data)

    assert response.status_code == 200
    assert "Use letters, digits" in text(response)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Register)) == 0


def test_create_with_support_offline_in_a_store_without_group_saves_nothing(client, login):
    StoreFactory(store_number="LOOSE", channel_data_group=None)
    login("hq")

    data = {
        "register_number": "LOOSE-1",
        "store": "LOOSE",
        "offline_profile": "",
        "support_offline": "y",
        "active": "y",
    }
    response = client.post("/registers/new", data=data)

    page = text(response)
    assert response.status_code == 200
    assert "The store has no channel data group." in page
    assert committed_register("LOOSE-1") is None
    assert offline_databases() == []


def test_edit_changes_profile_active_and_support_offline(client, login):
    RegisterFactory(register_number="R-1")
    ProfileFactory(name="Own profile")
    login("hq")

    form = text(client.get("/registers/R-1/edit"))
    data = {"offline_profile": "Own profile", "support_offline": "y"}
    response = client.post("/registers/R-1/edit", data=data)

    assert 'id="register_number" value="R-1" readonly' in form
    assert 'name="store"' not in form
    assert response.headers["Location"] == "/registers/R-1"
    register = committed_register("R-1")
    assert register.offline_profile.name == "Own profile"
    assert register.support_offline and not register.active
    # Support offline is on but the register is inactive: nothing is built for it.
    assert offline_databases() == []


def test_edit_refusal_is_shown_on_the_form_and_nothing_changes(client, login):
    StoreFactory(store_number="LOOSE", channel_data_group=None)
    RegisterFactory(register_number="LOOSE-1", store="LOOSE")
    ProfileFactory(name="Own profile")
    login("hq")

    data = {"offline_profile": "Own profile", "support_offline": "y", "active": "y"}
    page = text(client.post("/registers/LOOSE-1/edit", data=data))

    assert "The store has no channel data group." in page
    register = committed_register("LOOSE-1")
    assert register.offline_profile is None and not register.support_offline


def test_delete_asks_then_removes_the_register(client, login):
    RegisterFactory(register_number="R-1", store=StoreFactory(store_number="HOUSTON").store_number)
    login("hq")

    confirm = text(client.get("/registers/R-1/delete"))
    response = client.post("/registers/R-1/delete")

    assert "Delete register R-1?" in confirm
    assert response.headers["Location"] == "/stores/HOUSTON"
    assert committed_register("R-1") is None


def test_delete_is_refused_for_a_register_with_an_offline_database(client, login):
    RegisterFactory(register_number="R-1", support_offline=True)
    login("hq")

    response = client.post("/registers/R-1/delete", follow_redirects=True)

    assert response.request.path == "/registers/R-1"
    assert "deactivate the register instead of deleting it" in text(response)
    assert committed_register("R-1") is not None


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_readers_see_pages_without_buttons_and_cannot_change(client, login, role):
    StoreFactory(store_number="HOUSTON")
    RegisterFactory(register_number="R-1", store="HOUSTON")
    login(role)

    listing = client.get("/registers/")
    detail = client.get("/registers/R-1")
    assert listing.status_code == detail.status_code == 200
    assert "/registers/new" not in text(listing)
    assert "Turn Support offline" not in text(detail) and "/registers/R-1/edit" not in text(detail)
    for url in ("/registers/new", "/registers/R-1/edit", "/registers/R-1/delete"):
        assert client.get(url).status_code == 403
    new = {"register_number": "R-2", "store": "HOUSTON", "active": "y"}
    assert client.post("/registers/new", data=new).status_code == 403
    assert client.post("/registers/R-1/edit", data={"support_offline": "y"}).status_code == 403
    toggle = client.post("/registers/R-1/support-offline", data={"enabled": "on"})
    assert toggle.status_code == 403
    assert client.post("/registers/R-1/delete").status_code == 403
    register = committed_register("R-1")
    assert register is not None and register.active and not register.support_offline
    assert committed_register("R-2") is None
    assert offline_databases() == []
