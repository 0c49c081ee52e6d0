"""Store pages through real HTTP: list, detail, create, edit, delete and who may change what."""

import html

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.models import ChannelDatabase, Store
from tests.factories import GroupFactory, ProfileFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

NEW_STORE = {
    "store_number": "austin",
    "name": "Austin Domain",
    "currency": "usd",
    "tax_group": "TX",
    "time_zone": "America/Chicago",
    "price_group": "",
    "assortment": "",
    "channel_data_group": "",
    "offline_profile": "",
}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def committed_store(number: str) -> Store | None:
    # A rollback first, so only what the request committed is seen.
    db.session.rollback()
    return db.session.scalar(sa.select(Store).filter_by(store_number=number))


def database_count() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(ChannelDatabase))


def test_list_shows_each_store_with_its_group_profile_and_register_count(client, login):
    GroupFactory(name="Texas stores")
    ProfileFactory(name="Standard offline")
    StoreFactory(
        store_number="HOUSTON",
        name="Houston Galleria",
        currency="USD",
        tax_group="TX-HOU",
        channel_data_group="Texas stores",
        offline_profile="Standard offline",
    )
    RegisterFactory(store="HOUSTON")
    RegisterFactory(store="HOUSTON")
    StoreFactory(store_number="LOOSE", channel_data_group=None, offline_profile=None)
    login("hq")

    page = text(client.get("/stores/"))

    houston = page[page.index(">HOUSTON<") : page.index(">LOOSE<")]
    for value in ("Houston Galleria", "USD", "TX-HOU", "Texas stores", "Standard offline"):
        assert value in houston
    assert 'href="/registers/?store=HOUSTON"' in houston
    assert ">2</a>" in houston
    loose = page[page.index(">LOOSE<") :]
    assert "No group" in loose
    assert ">0</a>" in loose
    assert 'href="/stores/new"' in page


def test_search_matches_number_or_name(client, login):
    StoreFactory(store_number="HOUSTON", name="Houston Galleria")
    StoreFactory(store_number="SEATTLE", name="Seattle Downtown")
    login("hq")

    by_name = text(client.get("/stores/?q=galleria"))
    by_number = text(client.get("/stores/?q=sea"))
    nothing = text(client.get("/stores/?q=paris"))

    assert ">HOUSTON<" in by_name and ">SEATTLE<" not in by_name
    assert ">SEATTLE<" in by_number and ">HOUSTON<" not in by_number
    assert "No store matches “paris”" in nothing


def test_list_is_paginated(client, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    for number in ("S1", "S2", "S3"):
        StoreFactory(store_number=number)
    login("hq")

    first = text(client.get("/stores/"))
    second = text(client.get("/stores/?page=2"))

    assert ">S1<" in first and ">S2<" in first and ">S3<" not in first
    assert ">S3<" in second and ">S1<" not in second
    assert "3 in all" in first
    assert 'href="/stores/?page=2"' in first


def test_detail_shows_settings_channel_database_and_registers(client, login):
    StoreFactory(store_number="HOUSTON", channel_data_group=GroupFactory(name="Stores").name)
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    RegisterFactory(register_number="HOUSTON-2", store="HOUSTON")
    store = committed_store("HOUSTON")
    login("hq")

    page = text(client.get("/stores/HOUSTON"))

    assert f'href="/channel-databases/{store.channel_database.id}"' in page
    assert "America/Chicago" in page and "Stores" in page
    first = page[page.index(">HOUSTON-1<") : page.index(">HOUSTON-2<")]
    assert ">On<" in first
    assert 'href="/channel-databases/' in first and "Active" in first
    second = page[page.index(">HOUSTON-2<") :]
    assert ">Off<" in second
    assert 'href="/registers/new?store=HOUSTON"' in page and "Add register" in page


def test_unknown_store_is_404(client, login):
    login("hq")
    assert client.get("/stores/NOWHERE").status_code == 404


def test_new_store_form_offers_groups_profiles_and_time_zones(client, login):
    GroupFactory(name="Stores")
    ProfileFactory(name="Standard offline")
    login("hq")

    page = text(client.get("/stores/new"))

    assert 'value="">— none —</option>' in page
    assert '<option value="Stores">Stores</option>' in page
    assert '<option value="Standard offline">Standard offline</option>' in page
    assert '<option value="Europe/Paris">Europe/Paris</option>' in page


def test_create_store_through_the_form(client, login):
    group = GroupFactory(name="Stores")
    ProfileFactory(name="Standard offline")
    login("hq")

    data = {**NEW_STORE, "channel_data_group": "Stores", "offline_profile": "Standard offline"}
    response = client.post("/stores/new", data=data)

    assert response.status_code == 302
    assert response.headers["Location"] == "/stores/AUSTIN"
    store = committed_store("AUSTIN")
    assert (store.name, store.currency) == ("Austin Domain", "USD")
    assert store.time_zone == "America/Chicago"
    assert store.offline_profile.name == "Standard offline"
    assert store.channel_database.channel_data_group.id == group.id
    assert "Store AUSTIN created" in text(client.get(response.headers["Location"]))


def test_create_store_shows_every_field_error_and_saves_nothing(client, login):
    login("hq")

    data = {**NEW_STORE, "name": "", "currency": "dollars", "time_zone": ""}
    response = client.post("/stores/new", data=data)

    page = text(response)
    assert response.status_code == 200
    assert "Three letters, e.g. USD." in page
    assert "An IANA name such as America/Chicago." in page
    assert 'id="name"' in page and "Required." in page
    assert committed_store("AUSTIN") is None
    assert database_count() == 0


def test_create_store_refuses_a_taken_number(client, login):
    StoreFactory(store_number="AUSTIN", name="First")
    login("hq")

    page = text(client.post("/stores/new", data=NEW_STORE))

    assert "Store 'AUSTIN' already exists." in page and "Already taken." in page
    assert committed_store("AUSTIN").name == "First"


def test_edit_shows_the_number_read_only_and_saves_changes(client, login):
    StoreFactory(store_number="HOUSTON", name="Old name")
    other = GroupFactory(name="Other group")
    login("hq")

    form = text(client.get("/stores/HOUSTON/edit"))
    assert 'id="store_number" value="HOUSTON" readonly' in form
    assert 'name="store_number"' not in form
    data = {
        **NEW_STORE,
        "store_number": "CHANGED",
        "name": "New name",
        "channel_data_group": "Other group",
    }
    response = client.post("/stores/HOUSTON/edit", data=data)

    assert response.headers["Location"] == "/stores/HOUSTON"
    store = committed_store("HOUSTON")
    assert store.name == "New name"
    assert store.channel_database.channel_data_group.id == other.id
    assert committed_store("CHANGED") is None


def test_edit_with_bad_values_changes_nothing(client, login):
    StoreFactory(store_number="HOUSTON", name="Old name", currency="USD")
    login("hq")

    data = {**NEW_STORE, "name": "New name", "currency": "12"}
    response = client.post("/stores/HOUSTON/edit", data=data)

    assert response.status_code == 200
    assert "Three letters, e.g. USD." in text(response)
    store = committed_store("HOUSTON")
    assert (store.name, store.currency) == ("Old name", "USD")


def test_delete_asks_then_removes_store_and_channel_database(client, login):
    StoreFactory(store_number="HOUSTON")
    login("hq")

    confirm = text(client.get("/stores/HOUSTON/delete"))
    response = client.post("/stores/HOUSTON/delete")

    assert "Delete store HOUSTON?" in confirm
    assert response.headers["Location"] == "/stores/"
    assert committed_store("HOUSTON") is None
    assert database_count() == 0


def test_delete_is_refused_while_the_store_has_registers(client, login):
    StoreFactory(store_number="HOUSTON")
    RegisterFactory(store="HOUSTON")
    login("hq")

    response = client.post("/stores/HOUSTON/delete", follow_redirects=True)

    assert response.request.path == "/stores/HOUSTON"
    assert "Store 'HOUSTON' still has 1 register(s); delete or move them first." in text(response)
    assert committed_store("HOUSTON") is not None
    assert database_count() == 1


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_readers_see_pages_without_buttons_and_cannot_change(client, login, role):
    StoreFactory(store_number="HOUSTON", name="Houston Galleria")
    login(role)

    listing = client.get("/stores/")
    detail = client.get("/stores/HOUSTON")
    assert listing.status_code == detail.status_code == 200
    assert "/stores/new" not in text(listing)
    assert "/stores/HOUSTON/edit" not in text(detail) and "Add register" not in text(detail)
    for url in ("/stores/new", "/stores/HOUSTON/edit", "/stores/HOUSTON/delete"):
        assert client.get(url).status_code == 403
    assert client.post("/stores/new", data=NEW_STORE).status_code == 403
    edit = {**NEW_STORE, "name": "Renamed"}
    assert client.post("/stores/HOUSTON/edit", data=edit).status_code == 403
    assert client.post("/stores/HOUSTON/delete").status_code == 403
    assert committed_store("HOUSTON").name == "Houston Galleria"
    assert committed_store("AUSTIN") is None
