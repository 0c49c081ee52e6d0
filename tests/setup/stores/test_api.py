"""The stores API: paging, search, reading, and changes that reach the database."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.models import CHANNEL, ChannelDatabase, Store
from tests.factories import GroupFactory, ProfileFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def hq(token_for):
    """Bearer headers of an HQ user, who may change the setup."""
    return token_for("hq")


def new_store(**overrides) -> dict:
    """A valid body for creating a store."""
    GroupFactory(name="Texas stores")
    ProfileFactory(name="Standard")
    return {
        "store_number": "HOUSTON",
        "name": "Houston Galleria",
        "currency": "USD",
        "tax_group": "TX",
        "time_zone": "America/Chicago",
        "channel_data_group": "Texas stores",
        "offline_profile": "Standard",
        **overrides,
    }


def stored(number: str) -> Store | None:
    """The store with this number, read from the database."""
    return db.session.scalar(sa.select(Store).filter_by(store_number=number))


def test_list_pages_through_stores_by_number(client, hq):
    for number in ("S3", "S1", "S2"):
        StoreFactory(store_number=number)

    first = client.get("/api/v1/stores?limit=2", headers=hq)
    assert first.status_code == 200
    assert [s["store_number"] for s in first.json["items"]] == ["S1", "S2"]
    assert first.json["next"]

    second = client.get(f"/api/v1/stores?limit=2&cursor={first.json['next']}", headers=hq).json
    assert [s["store_number"] for s in second["items"]] == ["S3"]
    assert second["next"] is None


def test_list_searches_number_and_name(client, hq):
    StoreFactory(store_number="HOUSTON", name="Galleria")
    StoreFactory(store_number="DALLAS", name="Houston Street")
    StoreFactory(store_number="SEATTLE", name="Pike Place")

    found = client.get("/api/v1/stores?q=houston", headers=hq).json["items"]
    assert [s["store_number"] for s in found] == ["DALLAS", "HOUSTON"]


def test_get_shows_references_by_number_and_name(client, hq):
    store = StoreFactory(store_number="HOUSTON", channel_data_group=GroupFactory(name="G").name)
    RegisterFactory(register_number="HOUSTON-2", store="HOUSTON")
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON")

    response = client.get("/api/v1/stores/houston", headers=hq)

    assert response.status_code == 200
    body = response.json
    assert body["store_number"] == "HOUSTON"
    assert body["channel_data_group"] == "G"
    assert body["offline_profile"] == store.offline_profile.name
    assert body["channel_database"] == store.channel_database.id
    assert body["registers"] == ["HOUSTON-1", "HOUSTON-2"]
    assert body["created_at"] and body["updated_at"]


def test_get_unknown_store_is_404(client, hq):
    response = client.get("/api/v1/stores/NOWHERE", headers=hq)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert "NOWHERE" in response.json["error"]["message"]


def test_create_makes_the_store_and_its_channel_database(client, hq):
    response = client.post("/api/v1/stores", json=new_store(price_group="RETAIL"), headers=hq)

    assert response.status_code == 201, response.json
    store = stored("HOUSTON")
    assert store.name == "Houston Galleria"
    assert store.price_group == "RETAIL"
    assert store.offline_profile.name == "Standard"
    database = db.session.scalar(sa.select(ChannelDatabase).filter_by(store_id=store.id))
    assert database.kind == CHANNEL
    assert database.channel_data_group.name == "Texas stores"
    assert response.json["channel_database"] == database.id
    assert response.json["registers"] == []


def test_create_reports_every_bad_field(client, hq):
    body = new_store(currency="dollars", time_zone="Mars/Olympus", channel_data_group="Nope")

    response = client.post("/api/v1/stores", json=body, headers=hq)

    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"currency", "time_zone", "channel_data_group"}
    assert stored("HOUSTON") is None


def test_create_names_missing_required_fields(client, hq):
    response = client.post("/api/v1/stores", json={"store_number": "X"}, headers=hq)

    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert set(fields) == {"name", "currency", "tax_group", "time_zone"}
    assert stored("X") is None


def test_create_duplicate_is_409(client, hq):
    StoreFactory(store_number="HOUSTON", name="The first")

    response = client.post("/api/v1/stores", json=new_store(), headers=hq)

    assert response.status_code == 409
    assert response.json["error"]["fields"] == {"store_number": "Already taken."}
    assert stored("HOUSTON").name == "The first"


def test_update_changes_fields_and_moves_the_channel_database(client, hq):
    StoreFactory(store_number="HOUSTON")
    GroupFactory(name="Moved")

    response = client.patch(
        "/api/v1/stores/HOUSTON",
        json={"name": "Renamed", "channel_data_group": "Moved", "offline_profile": None},
        headers=hq,
    )

    assert response.status_code == 200, response.json
    assert response.json["name"] == "Renamed"
    store = stored("HOUSTON")
    assert store.name == "Renamed"
    assert store.offline_profile is None
    assert store.channel_database.channel_data_group.name == "Moved"


def test_update_refuses_a_new_store_number(client, hq):
    StoreFactory(store_number="HOUSTON")

    response = client.patch("/api/v1/stores/HOUSTON", json={"store_number": "DALLAS"}, headers=hq)

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"store_number": "Cannot be changed."}
    assert stored("HOUSTON") is not None and stored("DALLAS") is None


def test_update_refuses_read_only_fields(client, hq):
    store = StoreFactory(store_number="HOUSTON")

    response = client.patch(
        "/api/v1/stores/HOUSTON", json={"name": "New", "channel_database": 99}, headers=hq
    )

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"channel_database": "Unknown field."}
    assert stored("HOUSTON").name == store.name


def test_delete_removes_the_store_and_its_channel_database(client, hq):
    StoreFactory(store_number="HOUSTON")

    response = client.delete("/api/v1/stores/HOUSTON", headers=hq)

    assert response.status_code == 204
    assert response.data == b""
    assert stored("HOUSTON") is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ChannelDatabase)) == 0


def test_delete_with_registers_is_refused(client, hq):
    RegisterFactory(store=StoreFactory(store_number="HOUSTON").store_number)

    response = client.delete("/api/v1/stores/HOUSTON", headers=hq)

    assert response.status_code == 409
    assert "still has 1 register" in response.json["error"]["message"]
    assert stored("HOUSTON") is not None
