"""Names beside codes: the products and staff a sale names, as HQ's master data calls them."""

import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata.people import Worker
from portal.masterdata.products import Product


def product_names(numbers: set[str]) -> dict[str, str]:
    """Product number → name, for those HQ knows (a deleted one keeps its last name)."""
    if not numbers:
        return {}
    rows = db.session.execute(
        sa.select(Product.product_number, Product.name).where(Product.product_number.in_(numbers))
    )
    return dict(rows.all())


def staff_names(ids: set[str]) -> dict[str, str]:
    """Staff id → the worker's name, for those HQ knows."""
    ids = {staff for staff in ids if staff}
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Worker.staff_id, Worker.name).where(Worker.staff_id.in_(ids))
    )
    return dict(rows.all())
