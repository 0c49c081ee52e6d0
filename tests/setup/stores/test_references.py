"""A store names master data by code (currency, sales tax group, price group, assortment): only
codes of live rows are taken, whether the store comes from its page or the API."""

import html

import pytest
import sqlalchemy as sa

from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.masterdata import services as masterdata
from portal.masterdata.tax import SalesTaxGroup
from portal.setup.models import Store
from portal.setup.stores import services as stores
from tests.factories import RegisterFactory, StoreFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

# (field, a code nothing has, the field's message)
UNKNOWN = [
    ("tax_group", "TXX", "No sales tax group 'TXX'. Choose one of the sales tax groups."),
    ("price_group", "NOPE", "No price group 'NOPE'. Choose one of the price groups."),
    ("currency", "EUR", "No currency 'EUR'. Choose one of the currencies."),
    ("assortment", "NONE", "No assortment 'NONE'. Choose one of the assortments."),
]
AUSTIN = {
    "store_number": "AUSTIN",
    "name": "Austin Domain",
    "currency": "USD",
    "tax_group": "TX",
    "time_zone": "America/Chicago",
    "price_group": "",
    "assortment": "",
    "channel_data_group": "",
    "offline_profile": "",
}


def austin() -> Store | None:
    return db.session.scalar(sa.select(Store).filter_by(store_number="AUSTIN"))


@pytest.mark.parametrize(("field", "code", "message"), UNKNOWN)
def test_the_page_refuses_a_new_store_naming_nothing(client, login, field, code, message):
    login("hq")

    response = client.post("/stores/new", data={**AUSTIN, field: code})

    assert response.status_code == 200
    assert message in html.unescape(response.get_data(as_text=True))
    assert austin() is None


@pytest.mark.parametrize(("field", "code", "message"), UNKNOWN)
def test_the_api_refuses_a_new_store_naming_nothing(client, token_for, field, code, message):
    body = {key: value for key, value in AUSTIN.items() if value}

    response = client.post("/api/v1/stores", json={**body, field: code}, headers=token_for("hq"))

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {field: message}
    assert austin() is None


@pytest.mark.parametrize(("field", "code", "message"), UNKNOWN)
def test_a_change_to_a_code_naming_nothing_is_refused(
    client, login, token_for, field, code, message
):
    store = StoreFactory(store_number="AUSTIN", price_group="RETAIL")
    before = (store.currency, store.tax_group, store.price_group, store.assortment)
    login("hq")

    page = client.post("/stores/AUSTIN/edit", data={**AUSTIN, field: code})
    api = client.patch("/api/v1/stores/AUSTIN", json={field: code}, headers=token_for("hq"))

    assert message in html.unescape(page.get_data(as_text=True))
    assert (api.status_code, api.json["error"]["fields"]) == (422, {field: message})
    db.session.expire_all()
    assert (store.currency, store.tax_group, store.price_group, store.assortment) == before


def test_every_unknown_code_is_named_at_once_and_the_format_comes_first():
    with pytest.raises(ValidationFailed) as refused:
        stores.create_store({**AUSTIN, "currency": "US", "tax_group": "TXX", "price_group": "X"})

    assert refused.value.fields == {
        "currency": "Three letters, e.g. USD.",
        "tax_group": "No sales tax group 'TXX'. Choose one of the sales tax groups.",
        "price_group": "No price group 'X'. Choose one of the price groups.",
    }


def test_a_deleted_tax_group_is_no_longer_offered():
    masterdata.bulk_upsert("sales_tax_group", [{"code": "OLD", "name": "Old tax"}])
    masterdata.delete_row(
        "sales_tax_group", db.session.scalar(sa.select(SalesTaxGroup.id).filter_by(code="OLD"))
    )
    db.session.commit()

    with pytest.raises(ValidationFailed) as refused:
        stores.create_store({**AUSTIN, "tax_group": "OLD"})

    assert refused.value.fields == {
        "tax_group": "No sales tax group 'OLD'. Choose one of the sales tax groups."
    }


def test_codes_of_live_rows_are_taken_and_blanks_name_nothing(client, token_for):
    masterdata.bulk_upsert("assortment", [{"code": "AUSTIN-A", "name": "Austin range"}])
    db.session.commit()
    body = {**AUSTIN, "price_group": "RETAIL", "assortment": "AUSTIN-A", "currency": "CAD"}
    del body["channel_data_group"], body["offline_profile"]

    created = client.post("/api/v1/stores", json=body, headers=token_for("hq"))
    cleared = client.patch(
        "/api/v1/stores/AUSTIN",
        json={"price_group": "", "assortment": None},
        headers=token_for("hq"),
    )

    assert created.status_code == 201, created.json
    assert (cleared.json["price_group"], cleared.json["assortment"]) == (None, None)


def test_a_store_named_by_master_data_is_not_deleted(client, login, token_for):
    StoreFactory(store_number="AUSTIN")
    masterdata.bulk_upsert("worker", [{"staff_id": "000160", "name": "Ana"}])
    masterdata.bulk_upsert("worker_store", [{"staff_id": "000160", "store_number": "AUSTIN"}])
    masterdata.bulk_upsert("store_settings", [{"store_number": "AUSTIN"}])
    db.session.commit()
    login("hq")

    api = client.delete("/api/v1/stores/AUSTIN", headers=token_for("hq"))
    page = client.post("/stores/AUSTIN/delete", follow_redirects=True)

    reason = (
        "Store 'AUSTIN' is not deleted. Still named by worker stores: 1, store settings: 1; "
        "delete or change those first."
    )
    assert (api.status_code, api.json["error"]["message"]) == (409, reason)
    assert reason in html.unescape(page.get_data(as_text=True))
    assert austin() is not None

    masterdata.bulk_delete("worker_store", [{"staff_id": "000160", "store_number": "AUSTIN"}])
    masterdata.bulk_delete("store_settings", ["AUSTIN"])
    db.session.commit()
    assert client.delete("/api/v1/stores/AUSTIN", headers=token_for("hq")).status_code == 204


def test_a_register_named_by_its_hardware_is_not_deleted(client, token_for):
    RegisterFactory(
        register_number="AUSTIN-1", store=StoreFactory(store_number="AUSTIN").store_number
    )
    masterdata.bulk_upsert(
        "register_hardware", [{"register_number": "AUSTIN-1", "store_number": "AUSTIN"}]
    )
    db.session.commit()

    response = client.delete("/api/v1/registers/AUSTIN-1", headers=token_for("hq"))

    assert response.status_code == 409
    assert response.json["error"]["message"] == (
        "Register 'AUSTIN-1' is not deleted. Still named by register hardware: 1; "
        "delete or change those first."
    )
