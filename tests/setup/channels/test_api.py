"""The channel databases and channel data groups APIs."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.models import ChannelDatabase, ChannelDataGroup
from tests.factories import GroupFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def hq(token_for):
    """Bearer headers of an HQ user, who may change the setup."""
    return token_for("hq")


def database_named(name: str) -> ChannelDatabase | None:
    """The channel database with this name."""
    return db.session.scalar(sa.select(ChannelDatabase).filter_by(name=name))


def group_named(name: str) -> ChannelDataGroup | None:
    """The channel data group with this name."""
    return db.session.scalar(sa.select(ChannelDataGroup).filter_by(name=name))


def count(model) -> int:
    """How many rows of this model exist."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def houston():
    """Store HOUSTON in group "Texas", with one offline register and one without."""
    GroupFactory(name="Texas")
    StoreFactory(store_number="HOUSTON", channel_data_group="Texas")
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    RegisterFactory(register_number="HOUSTON-2", store="HOUSTON")


def test_list_pages_through_databases_by_id(client, hq, houston):
    StoreFactory(store_number="DALLAS")
    ids = sorted(db.session.scalars(sa.select(ChannelDatabase.id)))

    first = client.get("/api/v1/channel-databases?limit=2", headers=hq)
    assert first.status_code == 200
    second = client.get(
        f"/api/v1/channel-databases?limit=2&cursor={first.json['next']}", headers=hq
    ).json

    assert [d["id"] for d in first.json["items"]] == ids[:2]
    assert [d["id"] for d in second["items"]] == ids[2:]
    assert second["next"] is None


def test_list_filters_by_kind_group_store_and_search(client, hq, houston):
    StoreFactory(store_number="DALLAS")

    def names(query):
        response = client.get(f"/api/v1/channel-databases?{query}", headers=hq)
        assert response.status_code == 200
        return [d["name"] for d in response.json["items"]]

    assert names("kind=offline") == ["HOUSTON-1"]
    assert names("group=Texas") == ["HOUSTON", "HOUSTON-1"]
    assert names("store=dallas") == ["DALLAS"]
    assert names("q=ton-") == ["HOUSTON-1"]


def test_list_refuses_an_unknown_kind(client, hq):
    response = client.get("/api/v1/channel-databases?kind=cloud", headers=hq)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"kind"}


def test_get_offline_database_shows_its_effective_profile(client, hq, houston):
    database = database_named("HOUSTON-1")
    profile = database.register.effective_offline_profile.name

    response = client.get(f"/api/v1/channel-databases/{database.id}", headers=hq)

    assert response.status_code == 200
    assert response.json == {
        "id": database.id,
        "name": "HOUSTON-1",
        "kind": "offline",
        "store": "HOUSTON",
        "register": "HOUSTON-1",
        "channel_data_group": "Texas",
        "active": True,
        "offline_profile": profile,
    }


def test_get_store_database_has_no_register_nor_profile(client, hq, houston):
    database = database_named("HOUSTON")

    body = client.get(f"/api/v1/channel-databases/{database.id}", headers=hq).json

    assert body["kind"] == "channel"
    assert body["register"] is None
    assert body["offline_profile"] is None


def test_get_unknown_database_is_404(client, hq):
    response = client.get("/api/v1/channel-databases/999", headers=hq)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_patch_moves_a_database_to_another_group(client, hq, houston):
    GroupFactory(name="Parking")
    database = database_named("HOUSTON-1")

    response = client.patch(
        f"/api/v1/channel-databases/{database.id}",
        json={"channel_data_group": "Parking"},
        headers=hq,
    )

    assert response.status_code == 200, response.json
    assert response.json["channel_data_group"] == "Parking"
    assert database_named("HOUSTON-1").channel_data_group.name == "Parking"


def test_patch_accepts_only_the_group(client, hq, houston):
    database = database_named("HOUSTON-1")

    response = client.patch(
        f"/api/v1/channel-databases/{database.id}",
        json={"name": "RENAMED", "active": False},
        headers=hq,
    )

    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"name", "active"}
    assert database_named("HOUSTON-1").active


def test_patch_names_an_unknown_group(client, hq, houston):
    database = database_named("HOUSTON-1")

    response = client.patch(
        f"/api/v1/channel-databases/{database.id}",
        json={"channel_data_group": "Nope"},
        headers=hq,
    )

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "channel_data_group": "No channel data group 'Nope'. Choose one of the channel data groups."
    }
    assert database_named("HOUSTON-1").channel_data_group.name == "Texas"


def test_databases_are_neither_created_nor_deleted_here(client, hq, houston):
    # They come and go with their store, or with the register's Support offline flag.
    database = database_named("HOUSTON")

    created = client.post("/api/v1/channel-databases", json={"name": "NEW"}, headers=hq)
    deleted = client.delete(f"/api/v1/channel-databases/{database.id}", headers=hq)

    for response in (created, deleted):
        assert response.status_code == 405
        assert response.json["error"]["code"] == "method_not_allowed"
    assert "POST" not in created.headers["Allow"]
    assert "DELETE" not in deleted.headers["Allow"]
    assert count(ChannelDatabase) == 2
    assert database_named("NEW") is None


def test_groups_list_pages_by_name_and_searches(client, hq):
    for name in ("Texas stores", "Parking", "Texas offline"):
        GroupFactory(name=name)

    first = client.get("/api/v1/channel-data-groups?limit=2", headers=hq)
    assert first.status_code == 200
    second = client.get(
        f"/api/v1/channel-data-groups?limit=2&cursor={first.json['next']}", headers=hq
    ).json
    searched = client.get("/api/v1/channel-data-groups?q=texas", headers=hq).json

    assert [g["name"] for g in first.json["items"]] == ["Parking", "Texas offline"]
    assert [g["name"] for g in second["items"]] == ["Texas stores"]
    assert second["next"] is None
    assert [g["name"] for g in searched["items"]] == ["Texas offline", "Texas stores"]


def test_get_group_counts_its_databases(client, hq, houston):
    response = client.get("/api/v1/channel-data-groups/Texas", headers=hq)

    assert response.status_code == 200
    assert response.json == {"name": "Texas", "description": "Test group", "databases": 2}


def test_get_unknown_group_is_404(client, hq):
    response = client.get("/api/v1/channel-data-groups/Nope", headers=hq)
    assert response.status_code == 404


def test_create_group(client, hq):
    response = client.post(
        "/api/v1/channel-data-groups",
        json={"name": "Houston offline", "description": "Offline registers"},
        headers=hq,
    )

    assert response.status_code == 201
    assert response.json == {
        "name": "Houston offline",
        "description": "Offline registers",
        "databases": 0,
    }
    assert group_named("Houston offline").description == "Offline registers"


def test_create_duplicate_group_is_409(client, hq):
    GroupFactory(name="Parking")

    response = client.post("/api/v1/channel-data-groups", json={"name": "Parking"}, headers=hq)

    assert response.status_code == 409
    assert response.json["error"]["fields"] == {"name": "Already taken."}
    assert count(ChannelDataGroup) == 1


def test_update_group_renames_it(client, hq):
    GroupFactory(name="Houston offline")

    response = client.patch(
        "/api/v1/channel-data-groups/Houston%20offline",
        json={"name": "Houston registers", "description": "New"},
        headers=hq,
    )

    assert response.status_code == 200
    assert group_named("Houston offline") is None
    assert group_named("Houston registers").description == "New"


def test_update_group_to_a_taken_name_is_409(client, hq):
    GroupFactory(name="Parking")
    GroupFactory(name="Texas")

    response = client.patch(
        "/api/v1/channel-data-groups/Texas", json={"name": "Parking"}, headers=hq
    )

    assert response.status_code == 409
    assert group_named("Texas") is not None


def test_delete_empty_group(client, hq):
    GroupFactory(name="Parking")

    response = client.delete("/api/v1/channel-data-groups/Parking", headers=hq)

    assert response.status_code == 204
    assert group_named("Parking") is None


def test_delete_group_in_use_is_refused(client, hq, houston):
    response = client.delete("/api/v1/channel-data-groups/Texas", headers=hq)

    assert response.status_code == 409
    assert "still has 2 channel database(s)" in response.json["error"]["message"]
    assert group_named("Texas") is not None
