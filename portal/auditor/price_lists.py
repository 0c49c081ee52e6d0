"""What HQ had distributed to registers: prices and tax rates over time, version by version.

A register judged at its watermark (`watermarks`) had the latest version of each row
(`portal.masterdata.history`) at or below it: a price changed or deleted since is read as the
register had it, and a row added since does not count. A row tombstoned at that version does
not count either.
"""

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.sql import among
from portal.masterdata.history import ProductPriceHistory, TaxRateHistory, TradeAgreementHistory

CENT = Decimal("0.01")


class PriceList:
    """The prices of some products in some price groups, over time, as registers had them.

    Only the versions some watermark among `prices_seen` (trade agreements) and
    `products_seen` (base prices) can see are read; None stands for HQ's current version.
    """

    def __init__(
        self,
        groups: Iterable[str],
        products: Iterable[str],
        prices_seen: Iterable[int | None] = (None,),
        products_seen: Iterable[int | None] = (None,),
    ) -> None:
        products = set(products)
        groups = {g for g in groups if g}
        self._agreements: dict[tuple[str, str], dict[date, Versions]] = {}
        self._base: dict[str, Versions] = {}
        if not products:
            return
        if groups:
            rows = db.session.execute(
                seen_versions(
                    TradeAgreementHistory,
                    ("price_group", "product_number", "valid_from"),
                    ("valid_to", "unit_price"),
                    (
                        TradeAgreementHistory.price_group.in_(groups),
                        among(TradeAgreementHistory.product_number, products),
                    ),
                    set(prices_seen),
                )
            )
            for group, product, starts, ends, price, deleted, version in rows:
                versions = self._agreements.setdefault((group, product), {})
                versions.setdefault(starts, Versions()).add(
                    version, None if deleted else (ends, price)
                )
        rows = db.session.execute(
            seen_versions(
                ProductPriceHistory,
                ("product_number",),
                ("base_price",),
                (among(ProductPriceHistory.product_number, products),),
                set(products_seen),
            )
        )
        for product, price, deleted, version in rows:
            self._base.setdefault(product, Versions()).add(version, None if deleted else price)

    def knows(self, group: str | None, product: str) -> bool:
        """Whether any price of the product was read: without one, `price` is None."""
        return product in self._base or (group or "", product) in self._agreements

    def price(
        self,
        group: str | None,
        product: str,
        day: date,
        prices_seen: int | None = None,
        products_seen: int | None = None,
    ) -> tuple[Decimal, str, date | None] | None:
        """The price valid on `day`, where it comes from and since when, or None if not known.

        `prices_seen` and `products_seen` are the register's watermarks of the price and
        product jobs (None: HQ's current rows count).
        """
        valid = []
        for starts, versions in self._agreements.get((group or "", product), {}).items():
            agreement = versions.at(prices_seen)
            if agreement is not None and starts <= day:
                ends, price = agreement
                if ends is None or ends >= day:
                    valid.append((starts, price))
        if valid:
            starts, price = max(valid)
            return price, "trade_agreement", starts
        versions = self._base.get(product)
        base = versions.at(products_seen) if versions else None
        return None if base is None else (base, "base_price", None)


class Versions:
    """The versions of one row, oldest first: which one a watermark saw (None if deleted)."""

    __slots__ = ("_marks", "_values")

    def __init__(self) -> None:
        self._marks: list[int] = []
        self._values: list[Any] = []

    def add(self, version: int, value: Any) -> None:
        """Append the row as `version` left it (in version order)."""
        self._marks.append(version)
        self._values.append(value)

    def at(self, seen: int | None) -> Any:
        """The row as a database with watermark `seen` has it (None: the current version)."""
        index = len(self._marks) if seen is None else bisect_right(self._marks, seen)
        return self._values[index - 1] if index else None


def seen_versions(
    model: type,
    key: tuple[str, ...],
    values: tuple[str, ...],
    where: tuple[sa.ColumnElement[bool], ...],
    marks: set[int | None],
) -> sa.Select:
    """History entries of the rows matching `where` that a watermark in `marks` may see.

    Rows come as (*key, *values, deleted, row_version), oldest first. Per row: the latest
    version at or below the lowest watermark, and the later ones up to the highest (with None
    among `marks`, up to the current one). A batch's registers have few watermarks, and most
    rows no version above them, so this is about one entry a row whatever its history.
    """
    marks = marks or {None}
    finite = {mark for mark in marks if mark is not None}
    version = model.row_version
    lowest = version if not finite else sa.case((version <= min(finite), version))
    columns = [getattr(model, name) for name in (*key, *values, "deleted")]
    floor = sa.func.max(lowest).over(partition_by=[getattr(model, name) for name in key])
    entries = sa.select(*columns, version, model.id, floor.label("floor")).where(*where)
    if None not in marks:
        entries = entries.where(version <= max(finite))
    entries = entries.subquery()
    return (
        sa.select(*(entries.c[c.name] for c in (*columns, version)))
        .where(sa.or_(entries.c.floor.is_(None), entries.c.row_version >= entries.c.floor))
        .order_by(entries.c.row_version, entries.c.id)
    )


class TaxRates:
    """The rates of some tax codes, over time (in percent), as registers had them.

    Only the versions some watermark among `taxes_seen` can see are read; None stands for
    HQ's current version.
    """

    def __init__(self, codes: Iterable[str], taxes_seen: Iterable[int | None] = (None,)) -> None:
        self._rates: dict[str, dict[date, Versions]] = {}
        self._known: dict[tuple[str, date, int | None], list[Decimal] | None] = {}
        codes = set(codes)
        if not codes:
            return
        rows = db.session.execute(
            seen_versions(
                TaxRateHistory,
                ("tax_code", "valid_from"),
                ("valid_to", "rate"),
                (TaxRateHistory.tax_code.in_(codes),),
                set(taxes_seen),
            )
        )
        for code, starts, ends, rate, deleted, version in rows:
            versions = self._rates.setdefault(code, {}).setdefault(starts, Versions())
            versions.add(version, None if deleted else (ends, rate))

    def rate(self, code: str, day: date, taxes_seen: int | None = None) -> Decimal | None:
        """The code's rate valid on `day` for a register with watermark `taxes_seen`, or None."""
        valid = []
        for starts, versions in self._rates.get(code, {}).items():
            known = versions.at(taxes_seen)
            if known is not None and starts <= day and (known[0] is None or known[0] >= day):
                valid.append((starts, known[1]))
        return max(valid)[1] if valid else None

    def expected_tax(
        self, tax_code: str, net: Decimal, day: date, taxes_seen: int | None = None
    ) -> Decimal | None:
        """The tax on `net` for a line's code (codes joined with "+"), rounded per code to cents.

        None when a code has no rate that day: nothing to compare with.
        """
        key = (tax_code, day, taxes_seen)
        if key not in self._known:
            # A batch's lines share a few codes, days and watermarks: each is looked up once.
            rates = [self.rate(code, day, taxes_seen) for code in tax_code.split("+")]
            self._known[key] = None if None in rates else rates
        rates = self._known[key]
        if rates is None:
            return None
        return sum(((net * rate / 100).quantize(CENT, ROUND_HALF_UP) for rate in rates), Decimal(0))


def tax_codes(tax_code: str) -> list[str]:
    """The codes of a line's tax code field ("A+B" names two)."""
    return [code for code in tax_code.split("+") if code]
