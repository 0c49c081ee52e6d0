"""A device's configuration: its own database, store, register and offline profile only."""

import pytest

from tests.device_api.conftest import API, activate, database_named
from tests.factories import ProfileFactory, RegisterFactory

pytestmark = pytest.mark.usefixtures("app_ctx", "stores_group")


def test_offline_database_gets_its_store_register_and_effective_profile(client):
    ProfileFactory(
        name="Fast switch",
        offline_timeout_s=5,
        reconnect_interval_min=2,
        scopes=[
            {"name": "Tax", "direction": "download", "tables": ["tax_code", "tax_rate"]},
            {"name": "Sales", "direction": "upload", "tables": ["sales_transaction"]},
        ],
    )
    RegisterFactory(
        register_number="HOUSTON-1",
        store="HOUSTON",
        support_offline=True,
        offline_profile="Fast switch",
    )
    headers, _ = activate(client, "HOUSTON-1")

    response = client.get(f"{API}/config", headers=headers)

    assert response.status_code == 200, response.text
    config = response.json
    database = database_named("HOUSTON-1")
    assert config["channel_database"] == {
        "id": database.id,
        "name": "HOUSTON-1",
        "kind": "offline",
        "activated_at": database.activated_at.isoformat(),
    }
    store = database.store
    assert config["store"] == {
        "store_number": "HOUSTON",
        "name": store.name,
        "currency": "USD",
        "time_zone": "America/Chicago",
        "tax_group": "TX",
        "price_group": None,
        "assortment": None,
    }
    assert config["register"] == {"register_number": "HOUSTON-1", "support_offline": True}
    assert config["offline_profile"] == {
        "name": "Fast switch",
        "offline_timeout_s": 5,
        "reconnect_interval_min": 2,
        "pause_sync": False,
        "allow_manual_switch_before_sign_in": False,
        "advanced_offline_switching": False,
        "health_check_interval_min": 5,
        "scopes": [
            {"name": "Tax", "direction": "download", "tables": ["tax_code", "tax_rate"]},
            {"name": "Sales", "direction": "upload", "tables": ["sales_transaction"]},
        ],
    }


def test_register_without_a_profile_of_its_own_gets_its_stores(client):
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    headers, _ = activate(client, "HOUSTON-1")

    profile = client.get(f"{API}/config", headers=headers).json["offline_profile"]

    expected = database_named("HOUSTON").store.offline_profile
    assert profile["name"] == expected.name
    assert [scope["name"] for scope in profile["scopes"]] == [s.name for s in expected.scopes]
    assert "1080" not in profile  # settings only, not jobs
    tax = next(scope for scope in profile["scopes"] if "tax_code" in scope["tables"])
    assert tax["tables"] == ["tax_code", "tax_rate", "sales_tax_group", "item_tax_group"]


def test_store_channel_database_gets_no_register_no_profile_and_nothing_of_other_stores(client):
    RegisterFactory(register_number="DALLAS-1", store="DALLAS", support_offline=True)
    headers, body = activate(client, "HOUSTON")

    response = client.get(f"{API}/config", headers=headers)

    config = response.json
    assert config["channel_database"]["kind"] == "channel"
    assert config["channel_database"]["id"] == body["channel_database"]["id"]
    assert config["store"]["store_number"] == "HOUSTON"
    assert config["register"] is None and config["offline_profile"] is None
    text = response.get_data(as_text=True)
    assert "DALLAS" not in text and "SEATTLE" not in text
