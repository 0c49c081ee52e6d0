"""Every version of the rows that set a price: trade agreements, base prices, tax rates.

A register sells at the prices of the packages it has applied, which may be older than HQ's
rows: judging its sales needs the row as it was at the register's watermark. So each insert,
change of a priced column or tombstone of these rows appends an entry holding the priced columns
and the change version that wrote them. ORM writes are recorded by the flush hook that stamps
the versions (`versioning`); writers that insert set-based call `record_rows`.
"""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.core.extensions import db


class TradeAgreementHistory(db.Model):
    """A trade agreement as one change version left it."""

    __tablename__ = "trade_agreement_history"
    # The price check reads the versions of a batch's products, up to a watermark.
    __table_args__ = (
        sa.Index(
            "ix_trade_agreement_history_key",
            "product_number",
            "price_group",
            "valid_from",
            "row_version",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    price_group: Mapped[str] = mapped_column(sa.String(30))
    product_number: Mapped[str] = mapped_column(sa.String(30))
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    unit_price: Mapped[Decimal] = mapped_column(sa.Numeric(14, 4))
    currency: Mapped[str] = mapped_column(sa.String(3))
    deleted: Mapped[bool]
    row_version: Mapped[int] = mapped_column(sa.BigInteger)


class ProductPriceHistory(db.Model):
    """A product's base price as one change version left it."""

    __tablename__ = "product_price_history"
    __table_args__ = (sa.Index("ix_product_price_history_key", "product_number", "row_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_number: Mapped[str] = mapped_column(sa.String(30))
    base_price: Mapped[Decimal] = mapped_column(sa.Numeric(14, 4))
    deleted: Mapped[bool]
    row_version: Mapped[int] = mapped_column(sa.BigInteger)


class TaxRateHistory(db.Model):
    """A tax rate as one change version left it."""

    __tablename__ = "tax_rate_history"
    __table_args__ = (sa.Index("ix_tax_rate_history_key", "tax_code", "valid_from", "row_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tax_code: Mapped[str] = mapped_column(sa.String(20))
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    rate: Mapped[Decimal] = mapped_column(sa.Numeric(9, 4))
    deleted: Mapped[bool]
    row_version: Mapped[int] = mapped_column(sa.BigInteger)


# The tables whose versions are kept: their history and its columns, natural key first. A
# change of any other column (a product's name) leaves the price as it was: no entry.
KEPT: dict[str, tuple[type, tuple[str, ...], int]] = {
    "trade_agreement": (
        TradeAgreementHistory,
        ("price_group", "product_number", "valid_from", "valid_to", "unit_price", "currency"),
        3,
    ),
    "product": (ProductPriceHistory, ("product_number", "base_price"), 1),
    "tax_rate": (TaxRateHistory, ("tax_code", "valid_from", "valid_to", "rate"), 2),
}


def record_changes(session: Session, rows: Iterable[Any], version: int) -> None:
    """Append an entry for each kept row among `rows` that is new or changed in a kept column.

    Called while flushing, after `rows` were stamped with `version`.
    """
    entries: dict[type, list[dict]] = {}
    for row in rows:
        kept = KEPT.get(getattr(row, "__tablename__", ""))
        if kept is None:
            continue
        model, columns, key_length = kept
        state = sa.inspect(row)
        names = (*columns, "deleted")
        if not state.pending:
            changed = {name for name in names if state.attrs[name].history.has_changes()}
            if not changed:
                continue
            if changed & set(columns[:key_length]):
                # The row moved to another key: at the old one it is gone.
                old = {name: _old_value(state, name) for name in columns}
                entries.setdefault(model, []).append(old | {"deleted": True})
        entries.setdefault(model, []).append({name: _value(row, name) for name in names})
    for model, listed in entries.items():
        session.execute(sa.insert(model.__table__), [e | {"row_version": version} for e in listed])


def record_rows(table: sa.Table, where: sa.ColumnElement[bool]) -> None:
    """Append an entry for each row of `table` matching `where`, as it is: one INSERT ... SELECT.

    For writers that insert set-based, bypassing the flush hook.
    """
    model, columns, _ = KEPT[table.name]
    names = (*columns, "deleted", "row_version")
    rows = sa.select(*(table.c[name] for name in names)).where(where)
    db.session.execute(sa.insert(model.__table__).from_select(names, rows))


def _value(row: Any, name: str) -> Any:
    # A new row's column defaults are applied by its INSERT, still to come.
    value = getattr(row, name)
    default = row.__table__.c[name].default
    if value is None and default is not None and default.is_scalar:
        return default.arg
    return value


def _old_value(state: Any, name: str) -> Any:
    history = state.attrs[name].history
    return (history.deleted or history.unchanged or (None,))[0]
