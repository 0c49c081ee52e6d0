"""The master data the stores of these tests name: currencies, sales tax groups, price groups."""

import pytest

from portal.extensions import db
from portal.masterdata.prices import Currency, PriceGroup
from portal.masterdata.tax import SalesTaxGroup
from tests.factories import ensure_master_data


@pytest.fixture(autouse=True)
def store_master_data(app_ctx):
    """USD and CAD, sales tax groups TX and WA, price group RETAIL, committed."""
    for model, code in (
        (Currency, "USD"),
        (Currency, "CAD"),
        (SalesTaxGroup, "TX"),
        (SalesTaxGroup, "WA"),
        (PriceGroup, "RETAIL"),
    ):
        ensure_master_data(model, code)
    db.session.commit()
