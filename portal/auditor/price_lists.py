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
from functools import cache
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.core.sql import among_param, is_postgresql
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
        on_postgresql = is_postgresql()
        if groups:
            marks = _marks(prices_seen)
            rows = db.session.execute(
                _agreements_query(on_postgresql, *_shape(marks)),
                {"groups": list(groups), "products": list(products), **_bounds(marks)},
            )
            for group, product, starts, ends, price, deleted, version in rows:
                versions = self._agreements.setdefault((group, product), {})
                versions.setdefault(starts, Versions()).add(
                    version, None if deleted else (ends, price)
                )
        marks = _marks(products_seen)
        rows = db.session.execute(
            _base_prices_query(on_postgresql, *_shape(marks)),
            {"products": list(products), **_bounds(marks)},
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
    marks = _marks(marks)
    stmt = _versions_select(model, key, values, where, *_shape(marks))
    bounds = _bounds(marks)
    return stmt.params(bounds) if bounds else stmt


def _marks(marks: Iterable[int | None]) -> set[int | None]:
    return set(marks) or {None}


def _shape(marks: set[int | None]) -> tuple[bool, bool]:
    """Whether some watermark is a version, and whether one is HQ's current version (None)."""
    return any(mark is not None for mark in marks), None in marks


def _bounds(marks: set[int | None]) -> dict[str, int]:
    """The lowest and highest watermark that is a version, as `_versions_select` binds them."""
    finite = {mark for mark in marks if mark is not None}
    return {"lowest": min(finite), "highest": max(finite)} if finite else {}


def _versions_select(
    model: type,
    key: tuple[str, ...],
    values: tuple[str, ...],
    where: tuple[sa.ColumnElement[bool], ...],
    finite: bool,
    current: bool,
) -> sa.Select:
    """`seen_versions`' select for watermarks of this shape, the bounds bound by name."""
    version = model.row_version
    lowest = (
        sa.case((version <= sa.bindparam("lowest", type_=version.type), version))
        if finite
        else version
    )
    columns = [getattr(model, name) for name in (*key, *values, "deleted")]
    floor = sa.func.max(lowest).over(partition_by=[getattr(model, name) for name in key])
    entries = sa.select(*columns, version, model.id, floor.label("floor")).where(*where)
    if not current:
        entries = entries.where(version <= sa.bindparam("highest", type_=version.type))
    entries = entries.subquery()
    return (
        sa.select(*(entries.c[c.name] for c in (*columns, version)))
        .where(sa.or_(entries.c.floor.is_(None), entries.c.row_version >= entries.c.floor))
        .order_by(entries.c.row_version, entries.c.id)
    )


# Built once per dialect and shape of watermarks: building these selects cost more than
# running them, on every batch.
@cache
def _agreements_query(on_postgresql: bool, finite: bool, current: bool) -> sa.Select:
    history = TradeAgreementHistory
    return _versions_select(
        history,
        ("price_group", "product_number", "valid_from"),
        ("valid_to", "unit_price"),
        (
            history.price_group.in_(sa.bindparam("groups", expanding=True)),
            among_param(history.product_number, "products", on_postgresql),
        ),
        finite,
        current,
    )


@cache
def _base_prices_query(on_postgresql: bool, finite: bool, current: bool) -> sa.Select:
    history = ProductPriceHistory
    return _versions_select(
        history,
        ("product_number",),
        ("base_price",),
        (among_param(history.product_number, "products", on_postgresql),),
        finite,
        current,
    )


@cache
def _rates_query(finite: bool, current: bool) -> sa.Select:
    history = TaxRateHistory
    return _versions_select(
        history,
        ("tax_code", "valid_from"),
        ("valid_to", "rate"),
        (history.tax_code.in_(sa.bindparam("codes", expanding=True)),),
        finite,
        current,
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
        marks = _marks(taxes_seen)
        rows = db.session.execute(
            _rates_query(*_shape(marks)), {"codes": list(codes), **_bounds(marks)}
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
