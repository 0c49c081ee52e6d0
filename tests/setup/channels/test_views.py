"""The HTML pages of channel data groups and channel databases."""

import re

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.channels import views as channel_views
from portal.setup.models import ChannelDatabase, ChannelDataGroup
from portal.setup.registers import services as registers
from tests.factories import GroupFactory, ProfileFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


def group_named(name: str) -> ChannelDataGroup | None:
    """The group as the database holds it now, past this session's cache."""
    db.session.expire_all()
    return db.session.scalar(sa.select(ChannelDataGroup).filter_by(name=name))


def row_cells(page: str, text: str) -> list[str]:
    """The cell texts of the table row that contains `text`, tags stripped."""
    row = next(row for row in page.split("<tr>") if text in row)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td.*?</td>", row, re.S)]


def test_group_list_shows_database_counts_and_searches(client, login):
    store = StoreFactory(channel_data_group=GroupFactory(name="Texas stores").name)
    RegisterFactory(store=store.store_number, support_offline=True)
    GroupFactory(name="Parking")
    login("auditor")

    page = client.get("/channel-data-groups/").text
    assert row_cells(page, "Texas stores") == ["Texas stores", "Test group", "2", "1"]
    assert "Parking" in page

    found = client.get("/channel-data-groups/?q=texas").text
    assert "Texas stores" in found and "Parking" not in found


def test_group_list_paginates(client, login, app, monkeypatch):
    monkeypatch.setitem(app.config, "PER_PAGE", 2)
    for name in ("A", "B", "C"):
        GroupFactory(name=f"Group {name}")
    login("hq")
    first = client.get("/channel-data-groups/").text
    second = client.get("/channel-data-groups/?page=2").text
    assert "Group A" in first and "Group C" not in first
    assert "Group C" in second and "Group A" not in second


def test_group_page_lists_its_databases_and_stores(client, login):
    GroupFactory(name="Stores")
    store = StoreFactory(store_number="HOUSTON", channel_data_group="Stores")
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    login("scheduler")

    page = client.get("/channel-data-groups/Stores").text

    assert f'href="/channel-databases/{store.channel_database.id}"' in page
    assert 'href="/registers/HOUSTON-1"' in page
    assert page.count('href="/stores/HOUSTON"') == 3  # two databases and the store table


def test_group_with_more_members_than_a_page_shows_a_page_and_counts(
    client, login, app, monkeypatch
):
    monkeypatch.setitem(app.config, "PER_PAGE", 4)
    monkeypatch.setattr(channel_views, "STORES_SHOWN", 2)
    GroupFactory(name="Chain")
    for number in ("A", "B", "C"):
        StoreFactory(store_number=number, channel_data_group="Chain")
        RegisterFactory(register_number=f"{number}-1", store=number, support_offline=True)
    login("hq")

    first = client.get("/channel-data-groups/Chain").text
    last = client.get("/channel-data-groups/Chain?page=2").text

    databases = r'href="/channel-databases/\d+"'
    assert (len(re.findall(databases, first)), len(re.findall(databases, last))) == (4, 2)
    assert "6 in all" in first
    assert "The first 2 of 3 stores by number." in first
    stores_table = first.split('id="group-stores-count"')[1]
    assert 'href="/stores/B"' in stores_table and 'href="/stores/C"' not in stores_table


def test_group_with_a_slash_in_its_name_has_pages(client, login):
    GroupFactory(name="Texas/Offline")
    login("hq")
    assert client.get("/channel-data-groups/Texas/Offline").status_code == 200
    response = client.post(
        "/channel-data-groups/Texas/Offline/edit", data={"name": "Texas offline"}
    )
    assert response.status_code == 302
    assert group_named("Texas offline") is not None


def test_unknown_group_is_404(client, login):
    login("hq")
    response = client.get("/channel-data-groups/Nowhere")
    assert response.status_code == 404
    assert "does not exist" in response.text


def test_create_group(client, login):
    login("hq")
    response = client.post(
        "/channel-data-groups/new", data={"name": " Parking ", "description": "No schedules"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/channel-data-groups/Parking"
    assert group_named("Parking").description == "No schedules"


def test_create_group_with_a_taken_name_shows_the_refusal(client, login):
    GroupFactory(name="Parking", description="first")
    login("hq")
    response = client.post("/channel-data-groups/new", data={"name": "Parking"})
    assert response.status_code == 200
    assert "already exists" in response.text and "Already taken." in response.text
    assert db.session.scalar(sa.select(sa.func.count(ChannelDataGroup.id))) == 1


def test_create_group_without_a_name_saves_nothing(client, login):
    login("hq")
    response = client.post("/channel-data-groups/new", data={"name": "  "})
    assert "Name is required." in response.text
    assert db.session.scalar(sa.select(sa.func.count(ChannelDataGroup.id))) == 0


def test_edit_group(client, login):
    GroupFactory(name="Offline", description="old")
    login("admin")
    form = client.get("/channel-data-groups/Offline/edit").text
    assert 'value="Offline"' in form
    response = client.post(
        "/channel-data-groups/Offline/edit",
        data={"name": "Offline registers", "description": "Offline databases"},
    )
    assert response.headers["Location"] == "/channel-data-groups/Offline%20registers"
    assert group_named("Offline") is None
    assert group_named("Offline registers").description == "Offline databases"


def test_delete_group_after_confirmation(client, login):
    GroupFactory(name="Old")
    login("hq")
    confirm = client.get("/channel-data-groups/Old/delete")
    assert "Delete channel data group &#39;Old&#39;?" in confirm.text
    assert group_named("Old") is not None

    response = client.post("/channel-data-groups/Old/delete")
    assert response.headers["Location"] == "/channel-data-groups/"
    assert group_named("Old") is None


def test_delete_of_a_group_in_use_is_refused(client, login):
    StoreFactory(channel_data_group=GroupFactory(name="Stores").name)
    login("hq")
    assert (
        "still has 1 channel database(s)" in client.get("/channel-data-groups/Stores/delete").text
    )

    response = client.post("/channel-data-groups/Stores/delete")

    assert response.status_code == 200
    assert "move them to another group first" in response.text
    assert group_named("Stores") is not None


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_readers_cannot_change_groups(client, login, role):
    GroupFactory(name="Stores")
    login(role)
    assert client.get("/channel-data-groups/Stores").status_code == 200
    assert "/channel-data-groups/Stores/edit" not in client.get("/channel-data-groups/Stores").text
    for url in ("/channel-data-groups/new", "/channel-data-groups/Stores/edit"):
        assert client.get(url).status_code == 403
    assert client.post("/channel-data-groups/new", data={"name": "X"}).status_code == 403
    edit = client.post("/channel-data-groups/Stores/edit", data={"name": "Renamed"})
    assert edit.status_code == 403
    assert client.post("/channel-data-groups/Stores/delete").status_code == 403
    assert group_named("Stores") is not None
    assert group_named("X") is None and group_named("Renamed") is None


def test_pages_need_sign_in(client):
    response = client.get("/channel-databases/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.fixture
def houston():
    """Store HOUSTON in 'Stores', with an offline register HOUSTON-1 and a plain HOUSTON-2."""
    store = StoreFactory(
        store_number="HOUSTON", channel_data_group=GroupFactory(name="Stores").name
    )
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    RegisterFactory(register_number="HOUSTON-2", store="HOUSTON")
    return store


def names_of(page: str) -> list[str]:
    """The database names a list page shows, in order."""
    return re.findall(r'class="mono" href="/channel-databases/\d+">([^<]+)</a>', page)


def test_database_list_filters(client, login, houston):
    seattle = StoreFactory(
        store_number="SEATTLE", channel_data_group=GroupFactory(name="West").name
    )
    register = RegisterFactory(register_number="SEATTLE-1", store="SEATTLE", support_offline=True)
    registers.set_support_offline(register, False)
    db.session.commit()
    assert seattle.channel_database.active
    login("auditor")

    def names(query: str = "") -> list[str]:
        return names_of(client.get(f"/channel-databases/{query}").text)

    assert names() == ["HOUSTON", "HOUSTON-1", "SEATTLE", "SEATTLE-1"]
    assert names("?q=houston") == ["HOUSTON", "HOUSTON-1"]
    assert names("?kind=offline") == ["HOUSTON-1", "SEATTLE-1"]
    assert names("?kind=channel&group=West") == ["SEATTLE"]
    assert names("?store=seattle") == ["SEATTLE", "SEATTLE-1"]
    assert names("?active=no") == ["SEATTLE-1"]
    assert names("?active=yes&kind=offline") == ["HOUSTON-1"]
    page = client.get("/channel-databases/").text
    assert "comes with the store" in page and "Support offline" in page


def test_database_list_paginates_with_its_filters(client, login, app, monkeypatch, houston):
    RegisterFactory(register_number="HOUSTON-3", store="HOUSTON", support_offline=True)
    monkeypatch.setitem(app.config, "PER_PAGE", 1)
    login("hq")
    page = client.get("/channel-databases/?kind=offline&page=2").text
    assert names_of(page) == ["HOUSTON-3"]
    assert "kind=offline" in page.split('aria-label="Pages"')[1]


def test_offline_database_page(client, login, houston):
    database = houston.registers[0].offline_database
    login("auditor")

    page = client.get(f"/channel-databases/{database.id}").text

    assert 'href="/stores/HOUSTON"' in page and 'href="/registers/HOUSTON-1"' in page
    assert 'href="/channel-data-groups/Stores"' in page
    profile = houston.offline_profile.name
    assert f">{profile}</a>" in page and "The store's default" in page
    assert "Change group" not in page


def test_store_database_page_has_no_register_or_profile(client, login, houston):
    login("hq")
    page = client.get(f"/channel-databases/{houston.channel_database.id}").text
    assert "Channel database of a store" in page
    assert 'href="/registers/HOUSTON' not in page and ">Offline profile<" not in page
    assert "Change group" in page


def test_register_profile_beats_the_store_default_on_the_database_page(client, login, houston):
    register = houston.registers[0]
    registers.update_register(register, {"offline_profile": ProfileFactory(name="Own").name})
    db.session.commit()
    login("hq")
    page = client.get(f"/channel-databases/{register.offline_database.id}").text
    assert ">Own</a>" in page and "Assigned to the register." in page


def test_unknown_database_is_404(client, login):
    login("hq")
    assert client.get("/channel-databases/999").status_code == 404


def test_offline_database_moves_to_a_parking_group(client, login, houston):
    GroupFactory(name="Parking")
    database = houston.registers[0].offline_database
    login("hq")
    form = client.get(f"/channel-databases/{database.id}/edit").text
    assert '<option selected value="Stores">' in form

    response = client.post(
        f"/channel-databases/{database.id}/edit", data={"channel_data_group": "Parking"}
    )

    assert response.headers["Location"] == f"/channel-databases/{database.id}"
    db.session.expire_all()
    assert database.channel_data_group.name == "Parking"
    assert houston.channel_data_group.name == "Stores"


def test_database_can_leave_every_group(client, login, houston):
    database = houston.registers[0].offline_database
    login("hq")
    client.post(f"/channel-databases/{database.id}/edit", data={"channel_data_group": ""})
    db.session.expire_all()
    assert database.channel_data_group is None
    page = client.get(f"/channel-databases/{database.id}").text
    assert "receives no distributions" in page


def test_moving_to_an_unknown_group_is_refused(client, login, houston):
    database = houston.channel_database
    login("hq")
    response = client.post(
        f"/channel-databases/{database.id}/edit", data={"channel_data_group": "Gone"}
    )
    assert response.status_code == 200
    assert (
        "No channel data group &#39;Gone&#39;. Choose one of the channel data groups."
        in response.text
    )
    db.session.expire_all()
    assert database.channel_data_group.name == "Stores"


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_readers_cannot_move_databases(client, login, houston, role):
    GroupFactory(name="Parking")
    database = houston.channel_database
    login(role)
    assert client.get("/channel-databases/").status_code == 200
    assert client.get(f"/channel-databases/{database.id}").status_code == 200
    assert client.get(f"/channel-databases/{database.id}/edit").status_code == 403
    response = client.post(
        f"/channel-databases/{database.id}/edit", data={"channel_data_group": "Parking"}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(ChannelDatabase, database.id).channel_data_group.name == "Stores"


def test_too_long_description_is_refused_before_the_database(client, login):
    login("hq")
    response = client.post("/channel-data-groups/new", data={"name": "G", "description": "x" * 256})
    assert "longer than 255" in response.text
    assert group_named("G") is None
