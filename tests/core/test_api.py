"""What every admin API endpoint shares: Bearer tokens, roles and the one error shape."""

import pytest
import sqlalchemy as sa

from portal.auth import services as auth
from portal.auth.models import ApiToken
from portal.core.extensions import db
from portal.setup.models import Store
from tests.factories import StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx", "store_master_data")

NEW_STORE = {
    "store_number": "HOUSTON",
    "name": "Houston",
    "currency": "USD",
    "tax_group": "TX",
    "time_zone": "America/Chicago",
}


def store_count() -> int:
    """How many stores exist."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Store))


def assert_error_shape(response, status: int, code: str) -> dict:
    """The response is our error body with this status and code; returns its fields."""
    assert response.status_code == status
    assert response.is_json
    assert set(response.json) == {"error"}
    assert set(response.json["error"]) == {"code", "message", "fields"}
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"]
    return response.json["error"]["fields"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic aHE6aHE="}, {"Authorization": "Bearer hqp_not-a-token"}],
    ids=["none", "other-scheme", "unknown-token"],
)
def test_requests_without_a_valid_token_are_401(client, headers):
    StoreFactory()

    listing = client.get("/api/v1/stores", headers=headers)
    creating = client.post("/api/v1/stores", json=NEW_STORE, headers=headers)

    assert_error_shape(listing, 401, "unauthorized")
    assert_error_shape(creating, 401, "unauthorized")
    assert store_count() == 1


def test_revoked_token_is_401(client, make_user):
    user = auth.get_user(make_user("hq"))
    token, secret = auth.create_token(user, "integration")
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/stores", headers=headers).status_code == 200

    auth.revoke_token(db.session.get(ApiToken, token.id))
    db.session.commit()

    assert_error_shape(client.get("/api/v1/stores", headers=headers), 401, "unauthorized")
    assert_error_shape(
        client.post("/api/v1/stores", json=NEW_STORE, headers=headers), 401, "unauthorized"
    )
    assert store_count() == 0


@pytest.mark.parametrize("role", ["auditor", "scheduler"])
def test_roles_without_change_setup_read_but_cannot_write(client, token_for, role):
    headers = token_for(role)
    store = StoreFactory(store_number="DALLAS", name="Dallas")

    assert client.get("/api/v1/stores/DALLAS", headers=headers).status_code == 200
    refused = [
        client.post("/api/v1/stores", json=NEW_STORE, headers=headers),
        client.patch("/api/v1/stores/DALLAS", json={"name": "Changed"}, headers=headers),
        client.delete("/api/v1/stores/DALLAS", headers=headers),
        client.patch("/api/v1/registers/ANY-1", json={"active": False}, headers=headers),
        client.post("/api/v1/channel-data-groups", json={"name": "G"}, headers=headers),
        client.post("/api/v1/offline-profiles", json={"name": "P"}, headers=headers),
    ]

    for response in refused:
        assert_error_shape(response, 403, "forbidden")
    assert store_count() == 1
    assert db.session.get(Store, store.id).name == "Dallas"


def test_admin_may_write(client, token_for):
    response = client.post("/api/v1/stores", json=NEW_STORE, headers=token_for("admin"))
    assert response.status_code == 201
    assert store_count() == 1


def test_malformed_json_body_is_400_in_our_shape(client, token_for):
    response = client.post(
        "/api/v1/stores",
        data='{"store_number": "HOUSTON",',
        content_type="application/json",
        headers=token_for("hq"),
    )

    fields = assert_error_shape(response, 400, "bad_request")
    assert fields == {"json": "Invalid JSON body."}
    assert store_count() == 0


def test_a_method_the_route_lacks_is_405_saying_which_it_has(client, token_for):
    response = client.put("/api/v1/stores", json=NEW_STORE, headers=token_for("hq"))

    assert_error_shape(response, 405, "method_not_allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert store_count() == 0


def test_a_nul_character_in_json_text_is_422_and_stores_nothing(client, token_for):
    # No database column can hold it; PostgreSQL would fail on it rather than refuse it.
    response = client.post(
        "/api/v1/stores", json={**NEW_STORE, "name": "Hou\x00ston"}, headers=token_for("hq")
    )

    fields = assert_error_shape(response, 422, "validation_failed")
    assert fields == {"name": "Must not contain the NUL character (U+0000)."}
    assert store_count() == 0


def test_a_nul_character_in_a_query_argument_is_422_naming_it(client, token_for):
    response = client.get("/api/v1/stores?q=%00", headers=token_for("hq"))

    fields = assert_error_shape(response, 422, "validation_failed")
    assert fields == {"q": "Must not contain the NUL character (U+0000)."}


def test_an_escaped_backslash_u0000_is_plain_text_and_accepted(client, token_for):
    response = client.post(
        "/api/v1/stores", json={**NEW_STORE, "name": "Houston \\u0000"}, headers=token_for("hq")
    )

    assert response.status_code == 201, response.text
    assert response.json["name"] == "Houston \\u0000"


def test_unknown_fields_are_422_naming_them(client, token_for):
    response = client.post(
        "/api/v1/stores", json={**NEW_STORE, "colour": "red"}, headers=token_for("hq")
    )

    fields = assert_error_shape(response, 422, "validation_failed")
    assert fields == {"colour": "Unknown field."}
    assert store_count() == 0


def test_a_body_that_is_not_an_object_is_422(client, token_for):
    response = client.post("/api/v1/stores", json=["HOUSTON"], headers=token_for("hq"))

    assert_error_shape(response, 422, "validation_failed")
    assert store_count() == 0


@pytest.mark.parametrize(
    "query, field", [("limit=0", "limit"), ("limit=many", "limit"), ("cursor=%25%25", "cursor")]
)
def test_bad_list_arguments_are_422_naming_them(client, token_for, query, field):
    response = client.get(f"/api/v1/stores?{query}", headers=token_for("auditor"))

    fields = assert_error_shape(response, 422, "validation_failed")
    assert set(fields) == {field}
