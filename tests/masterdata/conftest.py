"""Reference rows the master data tests build on: units, a category, tax, currencies, prices."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.core.extensions import db
from portal.masterdata import services


@pytest.fixture
def reference(app_ctx):
    """The rows products and prices refer to, committed."""
    services.bulk_upsert("unit", [{"code": "pcs", "name": "Pieces"}])
    services.bulk_upsert("product_category", [{"code": "COFFEE", "name": "Coffee"}])
    services.bulk_upsert("tax_code", [{"code": "TX-STATE", "name": "Texas state tax"}])
    services.bulk_upsert("item_tax_group", [{"code": "STANDARD", "name": "Standard"}])
    services.bulk_upsert("currency", [{"code": "USD", "name": "US dollar"}])
    services.bulk_upsert("price_group", [{"code": "RETAIL", "name": "Retail"}])
    db.session.commit()


def product(number: str, **values) -> dict:
    """A valid product row."""
    return {"product_number": number, "name": f"Product {number}", "unit": "pcs", **values}


def price(number: str, unit_price="4.99", **values) -> dict:
    """A valid RETAIL price row of a product."""
    return {
        "price_group": "RETAIL",
        "product_number": number,
        "unit_price": unit_price,
        "currency": "USD",
        "valid_from": "2026-01-01",
        **values,
    }


def audit_entries(entity_type: str) -> list[AuditEntry]:
    """The audit entries of one entity type, oldest first."""
    stmt = sa.select(AuditEntry).filter_by(entity_type=entity_type).order_by(AuditEntry.id)
    return list(db.session.scalars(stmt))
