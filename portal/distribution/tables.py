"""Which master data rows each distributable table sends to a target, and how a row is written."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from portal.masterdata.tax import ItemTaxGroup, SalesTaxGroup, TaxCode, TaxRate

# Columns that describe the HQ row's bookkeeping, not the data a target stores.
BOOKKEEPING = frozenset({"id", "row_version", "deleted", "changed_at", "created_at", "updated_at"})


@dataclass(frozen=True)
class Target:
    """What scopes a package: the target store's settings that filter rows."""

    store_number: str
    tax_group: str | None
    price_group: str | None
    assortment: str | None


@dataclass(frozen=True)
class DistributedTable:
    """A distributable table: its model, natural key and filter for one target."""

    name: str
    model: type
    key: tuple[str, ...]
    scope: Callable[[sa.Select, Target], sa.Select] = lambda stmt, target: stmt
    # The target settings the scope reads; a change of them forces a full package.
    scope_params: tuple[str, ...] = ()

    def rows(self, target: Target, base: int, upto: int, full: bool, connection) -> Iterator[dict]:
        """Stream the package lines for this table: upserts, and deletions when incremental."""
        model = self.model
        stmt = sa.select(model).where(model.row_version <= upto)
        if full:
            stmt = stmt.where(model.deleted.is_(False))
        else:
            stmt = stmt.where(model.row_version > base)
        stmt = self.scope(stmt, target).order_by(*(getattr(model, k) for k in self.key))
        columns = [c for c in model.__table__.columns if c.key not in BOOKKEEPING]
        lines = connection.execute(
            stmt.with_only_columns(*columns, model.deleted), execution_options={"yield_per": 2000}
        )
        for row in lines:
            values = {c.key: _json_value(row._mapping[c]) for c in columns}
            key = {k: values[k] for k in self.key}
            if row.deleted:
                yield {"op": "delete", "key": key}
            else:
                yield {"op": "upsert", "key": key, "row": values}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _store_tax_group(stmt: sa.Select, target: Target) -> sa.Select:
    return stmt.where(SalesTaxGroup.code == target.tax_group)


TABLES: dict[str, DistributedTable] = {
    table.name: table
    for table in (
        DistributedTable("tax_code", TaxCode, ("code",)),
        DistributedTable("tax_rate", TaxRate, ("tax_code", "valid_from")),
        DistributedTable(
            "sales_tax_group", SalesTaxGroup, ("code",), _store_tax_group, ("tax_group",)
        ),
        DistributedTable("item_tax_group", ItemTaxGroup, ("code",)),
    )
}
