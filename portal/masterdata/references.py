"""Names that must name something: the one message for a reference to nothing, the store fields
that name master data rows (its currency, sales tax group, price group and assortment), and the
store and register tables that master data rows name.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata.prices import Currency, PriceGroup
from portal.masterdata.products import Assortment
from portal.masterdata.tax import SalesTaxGroup


def unknown(noun: str, plural: str, value: object) -> str:
    """The field message for a value that names no live row: what it named, and where to look."""
    return f"No {noun} '{value}'. Choose one of the {plural}."


@dataclass(frozen=True)
class CodeReference:
    """A setup field whose value is the code of a live row of a master data table."""

    model: type
    noun: str
    plural: str


STORE_REFERENCES: dict[str, CodeReference] = {
    "currency": CodeReference(Currency, "currency", "currencies"),
    "tax_group": CodeReference(SalesTaxGroup, "sales tax group", "sales tax groups"),
    "price_group": CodeReference(PriceGroup, "price group", "price groups"),
    "assortment": CodeReference(Assortment, "assortment", "assortments"),
}


# Setup sits above master data, so the setup rows master data names (a worker's store, register
# hardware) and the store fields that name master data are read by table and column here.
STORE = sa.table(
    "store", sa.column("id"), sa.column("store_number"), *map(sa.column, STORE_REFERENCES)
)
REGISTER = sa.table("register", sa.column("id"), sa.column("register_number"))


def live_codes(model: type, codes: Iterable[str]) -> set[str]:
    """Which of these codes name live (not deleted) rows of a master data table, in one query."""
    wanted = set(codes)
    if not wanted:
        return set()
    stmt = sa.select(model.code).where(model.code.in_(wanted), model.deleted.is_(False))
    return set(db.session.scalars(stmt))


def check_codes(values: dict[str, str | None], references: dict[str, CodeReference]) -> dict:
    """A field message for each given value that names no live row; None names nothing."""
    problems = {}
    for field, value in values.items():
        reference = references[field]
        if value is not None and value not in live_codes(reference.model, [value]):
            problems[field] = unknown(reference.noun, reference.plural, value)
    return problems
