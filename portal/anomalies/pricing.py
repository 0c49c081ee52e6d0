"""What a register should have charged: the price and the tax rates valid on the day of a sale.

The expected price is the one HQ had distributed to the register, valid on the sale's day (local
to the register): the store's price group's trade agreement with the latest start, else the
product's base price, counting only rows that had reached the register by then
(`watermarks`). Limits: HQ keeps only the current version of a row, so a row changed after the
register's watermark is left out rather than read as it was (the register may have had an
older agreement: a mismatch then names the one HQ has); and when the product row itself changed
since, its base price is unknown and the line is not compared. Tombstoned rows do not count.
Tax rates are taken as HQ holds them, valid on the sale's day.
"""

from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from portal.anomalies.findings import Arrival, finding, local_day
from portal.anomalies.models import PRICE_MISMATCH, TAX_MISMATCH
from portal.anomalies.watermarks import PRICES_JOB, PRODUCTS_JOB, Watermarks
from portal.extensions import db
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import Product
from portal.masterdata.tax import TaxRate

CENT = Decimal("0.01")
TAX_TOLERANCE = Decimal("0.01")


class PriceList:
    """The prices of some products in some price groups, over time."""

    def __init__(self, groups: Iterable[str], products: Iterable[str]) -> None:
        products = set(products)
        groups = {g for g in groups if g}
        self._agreements: dict[tuple[str, str], list[tuple[date, date | None, Decimal, int]]] = {}
        self._base: dict[str, tuple[Decimal, int]] = {}
        if not products:
            return
        if groups:
            rows = db.session.execute(
                sa.select(
                    TradeAgreement.price_group,
                    TradeAgreement.product_number,
                    TradeAgreement.valid_from,
                    TradeAgreement.valid_to,
                    TradeAgreement.unit_price,
                    TradeAgreement.row_version,
                ).where(
                    TradeAgreement.price_group.in_(groups),
                    among(TradeAgreement.product_number, products),
                    TradeAgreement.deleted.is_(False),
                )
            )
            for group, product, starts, ends, price, version in rows:
                self._agreements.setdefault((group, product), []).append(
                    (starts, ends, price, version)
                )
        rows = db.session.execute(
            sa.select(Product.product_number, Product.base_price, Product.row_version).where(
                among(Product.product_number, products), Product.deleted.is_(False)
            )
        )
        self._base = {number: (price, version) for number, price, version in rows}

    def __bool__(self) -> bool:
        return bool(self._agreements or self._base)

    def price(
        self,
        group: str | None,
        product: str,
        day: date,
        prices_seen: int | None = None,
        products_seen: int | None = None,
    ) -> tuple[Decimal, str] | None:
        """The price valid on `day` and where it comes from, or None when it is not known.

        `prices_seen` and `products_seen` are the register's watermarks of the price and
        product jobs (None: every row counts).
        """
        valid = [
            (starts, price)
            for starts, ends, price, version in self._agreements.get((group or "", product), ())
            if starts <= day
            and (ends is None or ends >= day)
            and (prices_seen is None or version <= prices_seen)
        ]
        if valid:
            return max(valid)[1], "trade_agreement"
        base, version = self._base.get(product, (None, 0))
        if base is None or (products_seen is not None and version > products_seen):
            return None
        return base, "base_price"


class TaxRates:
    """The rates of some tax codes, over time (in percent)."""

    def __init__(self, codes: Iterable[str]) -> None:
        self._rates: dict[str, list[tuple[date, date | None, Decimal]]] = {}
        codes = set(codes)
        if not codes:
            return
        rows = db.session.execute(
            sa.select(TaxRate.tax_code, TaxRate.valid_from, TaxRate.valid_to, TaxRate.rate).where(
                TaxRate.tax_code.in_(codes), TaxRate.deleted.is_(False)
            )
        )
        for code, starts, ends, rate in rows:
            self._rates.setdefault(code, []).append((starts, ends, rate))

    def rate(self, code: str, day: date) -> Decimal | None:
        """The code's rate valid on `day`, or None when it has none."""
        valid = [
            (starts, rate)
            for starts, ends, rate in self._rates.get(code, ())
            if starts <= day and (ends is None or ends >= day)
        ]
        return max(valid)[1] if valid else None

    def expected_tax(self, tax_code: str, net: Decimal, day: date) -> Decimal | None:
        """The tax on `net` for a line's code (codes joined with "+"), rounded per code to cents.

        None when a code has no rate that day: nothing to compare with.
        """
        total = Decimal(0)
        for code in tax_code.split("+"):
            rate = self.rate(code, day)
            if rate is None:
                return None
            total += (net * rate / 100).quantize(CENT, ROUND_HALF_UP)
        return total


def tax_codes(tax_code: str) -> list[str]:
    """The codes of a line's tax code field ("A+B" names two)."""
    return [code for code in tax_code.split("+") if code]


def among(column: sa.ColumnElement, values: Iterable) -> sa.ColumnElement[bool]:
    """`column IN values`, as one array parameter on PostgreSQL.

    A batch names thousands of products: a placeholder for each costs more than the query, and
    so does `= ANY(array)`, which the planner estimates element by element.
    """
    values = list(values)
    if db.session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    array = sa.bindparam(None, values, type_=postgresql.ARRAY(column.type))
    return column.in_(sa.select(sa.func.unnest(array)).scalar_subquery())


def price_and_tax_findings(
    arrivals: list[Arrival], price_groups: dict[int, str | None], now: datetime
) -> list[dict]:
    """A line's price other than HQ's for that day, or its tax other than the rate gives."""
    lines = [(a, n, line) for a in arrivals for n, line in enumerate(a.sale.lines, 1)]
    prices = PriceList(
        set(price_groups.values()),
        {line["product"] for _, _, line in lines if not line["price_override"]},
    )
    rates = TaxRates({code for _, _, line in lines for code in tax_codes(line["tax_code"])})
    # Without a price to compare with, what reached the registers does not matter.
    seen = Watermarks(arrivals if prices else [], (PRICES_JOB, PRODUCTS_JOB))
    found, context = [], {}
    for arrival, number, line in lines:
        if arrival.pk not in context:
            context[arrival.pk] = (
                local_day(arrival.sale),
                seen.at(arrival, PRICES_JOB),
                seen.at(arrival, PRODUCTS_JOB),
            )
        day, prices_seen, products_seen = context[arrival.pk]
        if not line["price_override"]:
            known = prices.price(
                price_groups[arrival.register_id], line["product"], day, prices_seen, products_seen
            )
            if known is not None and not _same_price(line["unit_price"], known[0]):
                expected, source = known
                found.append(
                    finding(
                        PRICE_MISMATCH,
                        arrival,
                        f"Line {number}: {line['product']} sold at {line['unit_price']:.2f}, "
                        f"HQ's price was {expected:.2f}.",
                        {
                            "line": number,
                            "product": line["product"],
                            "expected": str(expected),
                            "found": str(line["unit_price"]),
                            "source": source,
                            "day": day.isoformat(),
                        },
                        now,
                    )
                )
        if line["tax_code"]:
            net = line["quantity"] * line["unit_price"] - line["discount"]
            expected = rates.expected_tax(line["tax_code"], net, day)
            if expected is not None and abs(line["tax_amount"] - expected) > TAX_TOLERANCE:
                found.append(
                    finding(
                        TAX_MISMATCH,
                        arrival,
                        f"Line {number}: tax {line['tax_amount']:.2f} where {line['tax_code']} "
                        f"gives {expected:.2f}.",
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
