"""The master data API: listing any table, bulk upsert and bulk delete, and its refusals."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata import services
from portal.masterdata.products import Product
from tests.masterdata.conftest import product

URL = "/api/v1/masterdata"


@pytest.fixture
def catalogue(reference, app_ctx):
    """Products P1 to P3; P2 is deleted."""
    services.bulk_upsert("product", [product("P1", name="Espresso"), product("P2"), product("P3")])
    services.bulk_delete("product", ["P2"])
    db.session.commit()


def live_products() -> dict[str, str]:
    db.session.expire_all()
    stmt = sa.select(Product.product_number, Product.name).filter_by(deleted=False)
    return dict(db.session.execute(stmt).all())


@pytest.mark.usefixtures("catalogue")
def test_list_pages_by_id_and_hides_tombstones_unless_asked(client, token_for):
    headers = token_for("auditor")

    first = client.get(f"{URL}/product?limit=1", headers=headers)
    second = client.get(f"{URL}/product?limit=1&cursor={first.json['next']}", headers=headers)
    everything = client.get(f"{URL}/product?include_deleted=true", headers=headers)
    search = client.get(f"{URL}/product?q=espresso", headers=headers)

    assert first.status_code == 200
    (item,) = first.json["items"]
    assert {k: item[k] for k in ("product_number", "name", "unit", "deleted")} == {
        "product_number": "P1",
        "name": "Espresso",
        "unit": "pcs",
        "deleted": False,
    }
    assert item["base_price"].startswith("0") and isinstance(item["row_version"], int)
    assert [i["product_number"] for i in second.json["items"]] == ["P3"]
    assert second.json["next"] is None
    assert [(i["product_number"], i["deleted"]) for i in everything.json["items"]] == [
        ("P1", False),
        ("P2", True),
        ("P3", False),
    ]
    assert [i["product_number"] for i in search.json["items"]] == ["P1"]


@pytest.mark.usefixtures("catalogue")
def test_bulk_upsert_answers_counts_and_the_version(client, token_for):
    rows = [product("P1", name="Espresso 1 kg"), product("P3"), product("P4", base_price=2.5)]

    response = client.post(f"{URL}/product", json={"rows": rows}, headers=token_for("hq"))

    assert response.status_code == 200, response.json
    assert response.json["inserted"] == 1 and response.json["updated"] == 1
    version = response.json["version"]
    assert live_products() == {"P1": "Espresso 1 kg", "P3": "Product P3", "P4": "Product P4"}
    stamped = db.session.scalars(sa.select(Product.product_number).filter_by(row_version=version))
    assert sorted(stamped) == ["P1", "P4"]


@pytest.mark.usefixtures("catalogue")
def test_bulk_delete_answers_how_many_rows_it_deleted(client, token_for):
    response = client.post(
        f"{URL}/product/delete", json={"keys": ["P1", "P2", "P9"]}, headers=token_for("admin")
    )

    assert response.status_code == 200, response.json
    assert response.json["deleted"] == 1 and isinstance(response.json["version"], int)
    assert live_products() == {"P3": "Product P3"}


@pytest.mark.usefixtures("catalogue")
def test_invalid_rows_answer_422_with_a_field_per_row_and_save_nothing(client, token_for):
    rows = [product("P5"), {"product_number": "P6", "name": "x", "base_price": "cheap"}, {}]

    response = client.post(f"{URL}/product", json={"rows": rows}, headers=token_for("hq"))

    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_failed"
    assert response.json["error"]["fields"] == {
        "rows.1.base_price": "Not a decimal.",
        "rows.2.product_number": "Required.",
    }
    assert "P5" not in live_products()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"rows": []},
        {"rows": "P1"},
        {"rows": [{"product_number": "P1"}] * (services.MAX_ROWS + 1)},
    ],
    ids=["missing", "empty", "not-a-list", "too-many"],
)
def test_malformed_bodies_answer_422(client, token_for, body, app_ctx):
    response = client.post(f"{URL}/product", json=body, headers=token_for("hq"))
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"rows"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/sales_transaction", None),
        ("POST", "/nothing", {"rows": [{"code": "X"}]}),
        ("POST", "/nothing/delete", {"keys": ["X"]}),
    ],
)
def test_an_unknown_table_answers_404_in_the_error_shape(client, token_for, method, path, body):
    response = client.open(f"{URL}{path}", method=method, json=body, headers=token_for("hq"))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert "no master data table" in response.json["error"]["message"]


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("role", ["scheduler", "auditor"])
def test_roles_without_the_master_data_right_cannot_write(client, token_for, role):
    headers = token_for(role)
    upsert = client.post(f"{URL}/product", json={"rows": [product("P9")]}, headers=headers)
    delete = client.post(f"{URL}/product/delete", json={"keys": ["P1"]}, headers=headers)

    assert (upsert.status_code, delete.status_code) == (403, 403)
    assert upsert.json["error"]["code"] == "forbidden"
    assert live_products() == {"P1": "Espresso", "P3": "Product P3"}


def test_calls_without_a_token_answer_401(client, app_ctx):
    assert client.get(f"{URL}/product").status_code == 401
    assert client.post(f"{URL}/product", json={"rows": [product("P1")]}).status_code == 401


def test_the_openapi_document_describes_the_bulk_bodies(client):
    spec = client.get("/api/v1/openapi.json").json
    upsert = spec["paths"]["/api/v1/masterdata/{entity}"]["post"]
    assert {"200", "404", "422", "403"} <= set(upsert["responses"])
    schemas = spec["components"]["schemas"]
    assert schemas["BulkUpsert"]["required"] == ["rows"]
    assert set(schemas["BulkUpsertResult"]["properties"]) == {"inserted", "updated", "version"}
    assert set(schemas["BulkDeleteResult"]["properties"]) == {"deleted", "version"}
