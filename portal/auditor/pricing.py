"""What a register should have charged: the price and the tax rates valid on the day of a sale.

The expected price is the one HQ had distributed to the register, valid on the sale's day (local
to the register): the store's price group's trade agreement with the latest start, else the
product's base price, each as it was at the register's watermark (`watermarks`): the latest
version of the row (`portal.masterdata.history`) at or below it, so a price changed or deleted
since is judged as the register had it, and a row added since does not count. A row tombstoned
at that version does not count either. Tax rates likewise: each code's rate valid on the
sale's day as the register's sales tax packages (job 1080) left it.
"""

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa

from portal.auditor.findings import finding, local_day
from portal.auditor.models import PRICE_MISMATCH, TAX_MISMATCH
from portal.auditor.watermarks import PRICES_JOB, PRODUCTS_JOB, TAX_JOB, Watermarks
from portal.core.extensions import db
from portal.core.sql import among
from portal.masterdata.history import ProductPriceHistory, TaxRateHistory, TradeAgreementHistory
from portal.transactions.signals import Arrival

CENT = Decimal("0.01")
TAX_TOLERANCE = Decimal("0.01")


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


def price_and_tax_findings(
    arrivals: list[Arrival], price_groups: dict[int, str | None], now: datetime
) -> list[dict]:
    """A line's price other than HQ's for that day, or its tax other than the rate gives."""
    lines = [(a, n, line) for a in arrivals for n, line in enumerate(a.sale.lines, 1)]
    wanted = {line["product"] for _, _, line in lines if not line["price_override"]}
    codes = {
        code for field in {line["tax_code"] for _, _, line in lines} for code in tax_codes(field)
    }
    # Without a price or a tax to compare, what reached the registers does not matter.
    seen = Watermarks(arrivals if wanted or codes else [], (PRICES_JOB, PRODUCTS_JOB, TAX_JOB))
    context = {
        a.pk: (
            local_day(a.sale),
            seen.at(a, PRICES_JOB),
            seen.at(a, PRODUCTS_JOB),
            seen.at(a, TAX_JOB),
        )
        for a in arrivals
    }
    marks = context.values()
    prices = PriceList(
        set(price_groups.values()),
        wanted,
        {prices_seen for _, prices_seen, _, _ in marks},
        {products_seen for _, _, products_seen, _ in marks},
    )
    rates = TaxRates(codes, {taxes_seen for *_, taxes_seen in marks})
    found = []
    for arrival, number, line in lines:
        day, prices_seen, products_seen, taxes_seen = context[arrival.pk]
        if not line["price_override"]:
            known = prices.price(
                price_groups[arrival.register_id], line["product"], day, prices_seen, products_seen
            )
            if known is not None and not _same_price(line["unit_price"], known[0]):
                expected, source, starts = known
                where = (
                    f"the price list valid from {starts:%d %b %Y}"
                    if starts
                    else "the product's base price"
                )
                found.append(
                    finding(
                        PRICE_MISMATCH,
                        arrival,
                        f"Line {number}: {line['product']} charged {line['unit_price']:.2f}; "
                        f"expected {expected:.2f} from {where}, as the register had it on "
                        f"{day:%d %b %Y}.",
                        {
                            "line": number,
                            "product": line["product"],
                            "expected": str(expected),
                            "found": str(line["unit_price"]),
                            "source": source,
                            "valid_from": starts.isoformat() if starts else None,
                            "day": day.isoformat(),
                        },
                        now,
                    )
                )
        if line["tax_code"]:
            net = line["quantity"] * line["unit_price"] - line["discount"]
            expected = rates.expected_tax(line["tax_code"], net, day, taxes_seen)
            if expected is not None and abs(line["tax_amount"] - expected) > TAX_TOLERANCE:
                found.append(
                    finding(
                        TAX_MISMATCH,
                        arrival,
                        f"Line {number}: tax charged {line['tax_amount']:.2f}; expected "
                        f"{expected:.2f} from {line['tax_code']} on {net:.2f} at the rate valid on "
                        f"{day:%d %b %Y}.",
                        {
                            "line": number,
                            "tax_code": line["tax_code"],
                            "net": str(net),
                            "expected": str(expected),
                            "found": str(line["tax_amount"]),
                            "day": day.isoformat(),
                        },
                        now,
                    )
                )
    return found


def _same_price(found: Decimal, expected: Decimal) -> bool:
    # Registers charge in cents: a price list entry of 4.995 is rung up as 5.00.
    return found == expected or found == expected.quantize(CENT)
