"""A sale as a receipt reads: product and staff names beside their codes, taxes per code."""

from decimal import Decimal

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


def tax_summary(lines) -> tuple[Decimal, list[tuple[str, Decimal, Decimal]]]:
    """A receipt's subtotal (before tax) and, per tax code, the net it applies to and the tax."""
    subtotal, taxes = Decimal(0), {}
    for line in lines:
        net = line.quantity * line.unit_price - line.discount
        subtotal += net
        code = line.tax_code or "—"
        base, tax = taxes.get(code, (Decimal(0), Decimal(0)))
        taxes[code] = (base + net, tax + line.tax_amount)
    return subtotal, [(code, *taxes[code]) for code in sorted(taxes)]
