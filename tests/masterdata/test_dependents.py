"""A master data row still in use is not deleted, from the API, a CSV import or its page."""

import pytest
import sqlalchemy as sa

from portal.core.errors import Conflict, ValidationFailed
from portal.core.extensions import db
from portal.masterdata import services
from portal.masterdata.products import Product, ProductCategory
from portal.masterdata.tax import TaxCode
from tests.factories import StoreFactory
from tests.masterdata.conftest import price, product

pytestmark = pytest.mark.usefixtures("reference")
PRODUCT_IN_USE = (
    "Still used by prices (trade agreements): 1, barcodes: 2; delete or change those first."
)


@pytest.fixture
def priced(reference):
    """Product P1 with a price and two barcodes; P2 with nothing."""
    services.bulk_upsert("product", [product("P1"), product("P2")])
    services.bulk_upsert("trade_agreement", [price("P1")])
    services.bulk_upsert(
        "barcode",
        [{"barcode": code, "product_number": "P1"} for code in ("0001", "0002")],
    )
    db.session.commit()


def live(model, column, value) -> bool:
    db.session.expire_all()
    row = db.session.scalar(sa.select(model).where(column == value))
    return row is not None and not row.deleted


def refused_delete(entity: str, keys: list) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as caught:
        services.bulk_delete(entity, keys)
    db.session.rollback()
    return caught.value.fields


@pytest.mark.usefixtures("priced")
def test_a_product_with_live_prices_and_barcodes_is_not_deleted_nor_its_batch():
    assert refused_delete("product", ["P2", "P1"]) == {"keys.1.product_number": PRODUCT_IN_USE}
    assert live(Product, Product.product_number, "P1")
    assert live(Product, Product.product_number, "P2")


@pytest.mark.usefixtures("priced")
def test_once_its_uses_are_deleted_the_product_goes():
    key = {"price_group": "RETAIL", "product_number": "P1", "valid_from": "2026-01-01"}
    services.bulk_delete("trade_agreement", [key])
    services.bulk_delete("barcode", ["0001", "0002"])
    outcome = services.bulk_delete("product", ["P1"])
    db.session.commit()
    assert outcome.deleted == 1
    assert not live(Product, Product.product_number, "P1")


def test_a_category_goes_with_its_sub_categories_but_not_before_them():
    services.bulk_upsert(
        "product_category",
        [
            {"code": "DRINKS", "name": "Drinks"},
            {"code": "TEA", "name": "Tea", "parent_code": "DRINKS"},
        ],
    )
    db.session.commit()
    assert refused_delete("product_category", ["DRINKS"]) == {
        "keys.0.code": "Still used by product categories: 1; delete or change those first."
    }
    assert services.bulk_delete("product_category", ["DRINKS", "TEA"]).deleted == 2


def test_a_tax_code_named_in_a_tax_groups_list_is_not_deleted():
    services.bulk_upsert("tax_code", [{"code": "TX-HOU", "name": "Houston"}])
    services.bulk_upsert(
        "sales_tax_group", [{"code": "TX", "name": "Texas", "tax_codes": ["TX-STATE", "TX-HOU"]}]
    )
    db.session.commit()
    assert refused_delete("tax_code", ["TX-HOU"]) == {
        "keys.0.code": "Still used by sales tax groups: 1; delete or change those first."
    }
    assert live(TaxCode, TaxCode.code, "TX-HOU")


def test_a_price_group_a_store_sells_at_is_not_deleted():
    StoreFactory(store_number="HOUSTON", price_group="RETAIL")
    db.session.commit()
    assert refused_delete("price_group", ["RETAIL"]) == {
        "keys.0.code": "Still used by stores: 1; delete or change those first."
    }


@pytest.mark.usefixtures("priced")
def test_the_row_page_says_why_and_keeps_the_row(client, login):
    login("hq")
    row = db.session.scalar(sa.select(Product).filter_by(product_number="P1"))
    url = f"/masterdata/product/rows/{row.id}/delete"

    response = client.post(url, follow_redirects=True)

    assert response.status_code == 200
    assert f"Product &#39;P1&#39; is not deleted. {PRODUCT_IN_USE}" in response.get_data(
        as_text=True
    )
    assert live(Product, Product.product_number, "P1")
    with pytest.raises(Conflict):
        services.delete_row("product", row.id)


@pytest.mark.usefixtures("priced")
def test_the_api_refuses_with_422_naming_the_key(client, token_for):
    response = client.post(
        "/api/v1/masterdata/product/delete", json={"keys": ["P1"]}, headers=token_for("hq")
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"keys.0.product_number": PRODUCT_IN_USE}
    assert live(Product, Product.product_number, "P1")
    assert live(ProductCategory, ProductCategory.code, "COFFEE")
