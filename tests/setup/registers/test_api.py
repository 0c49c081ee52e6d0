"""The registers API, above all Support offline going through the same rule as the UI."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.setup.models import OFFLINE, ChannelDatabase, Register
from tests.factories import GroupFactory, ProfileFactory, RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def hq(token_for):
    """Bearer headers of an HQ user, who may change the setup."""
    return token_for("hq")


def stored(number: str) -> Register | None:
    """The register with this number, read from the database."""
    return db.session.scalar(sa.select(Register).filter_by(register_number=number))


def offline_databases() -> list[ChannelDatabase]:
    """Every offline channel database."""
    return list(db.session.scalars(sa.select(ChannelDatabase).filter_by(kind=OFFLINE)))


def test_list_pages_through_registers_by_number(client, hq):
    StoreFactory(store_number="HOUSTON")
    for number in ("HOUSTON-3", "HOUSTON-1", "HOUSTON-2"):
        RegisterFactory(register_number=number, store="HOUSTON")

    first = client.get("/api/v1/registers?limit=2", headers=hq)
    assert first.status_code == 200
    assert [r["register_number"] for r in first.json["items"]] == ["HOUSTON-1", "HOUSTON-2"]

    second = client.get(f"/api/v1/registers?limit=2&cursor={first.json['next']}", headers=hq).json
    assert [r["register_number"] for r in second["items"]] == ["HOUSTON-3"]
    assert second["next"] is None


def test_list_filters_by_store_and_searches(client, hq):
    StoreFactory(store_number="HOUSTON")
    StoreFactory(store_number="DALLAS")
    for number, store in (
        ("HOUSTON-1", "HOUSTON"),
        ("HOUSTON-2", "HOUSTON"),
        ("DALLAS-1", "DALLAS"),
    ):
        RegisterFactory(register_number=number, store=store)

    of_store = client.get("/api/v1/registers?store=dallas", headers=hq).json["items"]
    searched = client.get("/api/v1/registers?q=ton-2", headers=hq).json["items"]

    assert [r["register_number"] for r in of_store] == ["DALLAS-1"]
    assert [r["register_number"] for r in searched] == ["HOUSTON-2"]


def test_get_shows_store_and_effective_profile(client, hq):
    store = StoreFactory(store_number="HOUSTON")
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON")

    response = client.get("/api/v1/registers/houston-1", headers=hq)

    assert response.status_code == 200
    assert response.json == {
        "register_number": "HOUSTON-1",
        "store": "HOUSTON",
        "support_offline": False,
        "offline_profile": None,
        "effective_offline_profile": store.offline_profile.name,
        "active": True,
        "offline_database": None,
    }


def test_get_unknown_register_is_404(client, hq):
    response = client.get("/api/v1/registers/NOPE-1", headers=hq)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_create_with_support_offline_creates_the_offline_database(client, hq):
    store = StoreFactory(store_number="HOUSTON")
    ProfileFactory(name="Fast")

    response = client.post(
        "/api/v1/registers",
        json={
            "register_number": "houston-1",
            "store": "HOUSTON",
            "offline_profile": "Fast",
            "support_offline": True,
        },
        headers=hq,
    )

    assert response.status_code == 201, response.json
    register = stored("HOUSTON-1")
    assert register.store is store
    assert register.offline_profile.name == "Fast"
    (database,) = offline_databases()
    assert database.register is register and database.active
    assert response.json["offline_database"]["id"] == database.id


def test_create_names_the_unknown_store(client, hq):
    response = client.post(
        "/api/v1/registers", json={"register_number": "X-1", "store": "NOWHERE"}, headers=hq
    )

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {
        "store": "No store 'NOWHERE'. Choose one of the stores."
    }
    assert stored("X-1") is None


def test_create_duplicate_is_409(client, hq):
    RegisterFactory(
        register_number="HOUSTON-1", store=StoreFactory(store_number="HOUSTON").store_number
    )

    response = client.post(
        "/api/v1/registers", json={"register_number": "HOUSTON-1", "store": "HOUSTON"}, headers=hq
    )

    assert response.status_code == 409
    assert response.json["error"]["fields"] == {"register_number": "Already taken."}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Register)) == 1


def test_patch_support_offline_on_creates_offline_database_in_store_group(client, hq):
    group = GroupFactory(name="Houston offline")
    StoreFactory(store_number="HOUSTON", channel_data_group=group.name)
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON")

    response = client.patch(
        "/api/v1/registers/HOUSTON-1", json={"support_offline": True}, headers=hq
    )

    assert response.status_code == 200, response.json
    (database,) = offline_databases()
    assert database.name == "HOUSTON-1"
    assert database.channel_data_group is group
    assert database.active
    assert stored("HOUSTON-1").support_offline
    assert response.json["offline_database"] == {
        "id": database.id,
        "name": "HOUSTON-1",
        "active": True,
        "channel_data_group": "Houston offline",
    }


def test_patch_support_offline_off_deactivates_and_keeps_the_database(client, hq):
    RegisterFactory(register_number="HOUSTON-1", support_offline=True)

    response = client.patch(
        "/api/v1/registers/HOUSTON-1", json={"support_offline": False}, headers=hq
    )

    assert response.status_code == 200
    (database,) = offline_databases()
    assert not database.active
    assert not stored("HOUSTON-1").support_offline
    assert response.json["offline_database"]["active"] is False


def test_patch_support_offline_refused_when_store_has_no_group(client, hq):
    StoreFactory(store_number="HOUSTON", channel_data_group=None)
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON")

    response = client.patch(
        "/api/v1/registers/HOUSTON-1", json={"support_offline": True}, headers=hq
    )

    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"support_offline"}
    assert offline_databases() == []
    assert not stored("HOUSTON-1").support_offline


def test_patch_refuses_moving_to_another_store(client, hq):
    RegisterFactory(
        register_number="HOUSTON-1", store=StoreFactory(store_number="HOUSTON").store_number
    )
    StoreFactory(store_number="DALLAS")

    response = client.patch("/api/v1/registers/HOUSTON-1", json={"store": "DALLAS"}, headers=hq)

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"store": "Cannot be changed."}
    assert stored("HOUSTON-1").store.store_number == "HOUSTON"


def test_patch_changes_profile_and_active(client, hq):
    RegisterFactory(register_number="HOUSTON-1")
    ProfileFactory(name="Slow")

    response = client.patch(
        "/api/v1/registers/HOUSTON-1",
        json={"offline_profile": "Slow", "active": False},
        headers=hq,
    )

    assert response.status_code == 200
    assert response.json["effective_offline_profile"] == "Slow"
    register = stored("HOUSTON-1")
    assert register.offline_profile.name == "Slow"
    assert not register.active


def test_delete_removes_the_register(client, hq):
    RegisterFactory(register_number="HOUSTON-1")

    response = client.delete("/api/v1/registers/HOUSTON-1", headers=hq)

    assert response.status_code == 204
    assert stored("HOUSTON-1") is None


def test_delete_with_offline_database_is_refused(client, hq):
    RegisterFactory(register_number="HOUSTON-1", support_offline=True)

    response = client.delete("/api/v1/registers/HOUSTON-1", headers=hq)

    assert response.status_code == 409
    assert "deactivate the register" in response.json["error"]["message"]
    assert stored("HOUSTON-1") is not None
