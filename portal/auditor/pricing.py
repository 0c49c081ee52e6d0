"""What a register should have charged: the price and the tax rates valid on the day of a sale.

The expected price is the one HQ had distributed to the register, valid on the sale's day (local
to the register): the store's price group's trade agreement with the latest start, else the
product's base price, each as it was at the register's watermark (`watermarks`): the latest
version of the row (`portal.masterdata.history`) at or below it, so a price changed or deleted
since is judged as the register had it, and a row added since does not count. A row tombstoned
at that version does not count either. Tax rates likewise: each code's rate valid on the
sale's day as the register's sales tax packages (job 1080) left it.
"""

from datetime import date, datetime
from decimal import Decimal

from portal.auditor.findings import finding, local_day
from portal.auditor.models import PRICE_MISMATCH, TAX_MISMATCH
from portal.auditor.price_lists import CENT, PriceList, TaxRates, tax_codes
from portal.auditor.watermarks import PRICES_JOB, PRODUCTS_JOB, TAX_JOB, Watermarks
from portal.transactions.signals import Arrival

TAX_TOLERANCE = Decimal("0.01")


class PriceAndTaxCheck:
    """A line's price other than HQ's for that day, or its tax other than the rate gives.

    Made, it reads what HQ had distributed for the batch's lines; `findings` compares them, in
    Python only (the rules run it while the database writes the lines).
    """

    def __init__(self, arrivals: list[Arrival], price_groups: dict[int, str | None]) -> None:
        self._arrivals, self._price_groups = arrivals, price_groups
        wanted = {
            line["product"] for a in arrivals for line in a.sale.lines if not line["price_override"]
        }
        codes = {
            code
            for field in {line["tax_code"] for a in arrivals for line in a.sale.lines}
            for code in tax_codes(field)
        }
        # Without a price or a tax to compare, what reached the registers does not matter.
        seen = Watermarks(arrivals if wanted or codes else [], (PRICES_JOB, PRODUCTS_JOB, TAX_JOB))
        self._context = {
            a.pk: (
                local_day(a.sale),
                seen.at(a, PRICES_JOB),
                seen.at(a, PRODUCTS_JOB),
                seen.at(a, TAX_JOB),
            )
            for a in arrivals
        }
        marks = self._context.values()
        self._prices = PriceList(
            set(price_groups.values()),
            wanted,
            {prices_seen for _, prices_seen, _, _ in marks},
            {products_seen for _, _, products_seen, _ in marks},
        )
        self._rates = TaxRates(codes, {taxes_seen for *_, taxes_seen in marks})

    def findings(self, now: datetime) -> list[dict]:
        """The anomaly rows of the lines charged other than HQ's prices and rates say."""
        prices, rates = self._prices, self._rates
        # A batch's lines repeat a few thousand products, prices, quantities and days: each
        # distinct question is answered once, and only a line found wrong costs more.
        expected_prices: dict[tuple, tuple[Decimal, str, date | None] | None] = {}
        expected_taxes: dict[tuple, Decimal | None] = {}
        found = []
        for arrival in self._arrivals:
            day, prices_seen, products_seen, taxes_seen = self._context[arrival.pk]
            group = self._price_groups[arrival.register_id]
            for number, line in enumerate(arrival.sale.lines, 1):
                product = line["product"]
                if not line["price_override"] and prices.knows(group, product):
                    key = (group, product, day, prices_seen, products_seen)
                    if key not in expected_prices:
                        expected_prices[key] = prices.price(*key)
                    known = expected_prices[key]
                    if known is not None and not _same_price(line["unit_price"], known[0]):
                        found.append(_price_finding(arrival, number, line, known, day, now))
                if line["tax_code"]:
                    key = (
                        line["tax_code"],
                        line["quantity"],
                        line["unit_price"],
                        line["discount"],
                        line["tax_amount"],
                        day,
                        taxes_seen,
                    )
                    if key not in expected_taxes:
                        expected_taxes[key] = _wrong_tax(line, rates, day, taxes_seen)
                    expected = expected_taxes[key]
                    if expected is not None:
                        found.append(_tax_finding(arrival, number, line, expected, day, now))
        return found


def _price_finding(
    arrival: Arrival,
    number: int,
    line: dict,
    known: tuple[Decimal, str, date | None],
    day: date,
    now: datetime,
) -> dict:
    expected, source, starts = known
    where = f"the price list valid from {starts:%d %b %Y}" if starts else "the product's base price"
    return finding(
        PRICE_MISMATCH,
        arrival,
        f"Line {number}: {line['product']} charged {line['unit_price']:.2f}; "
        f"expected {expected:.2f} from {where}, as the register had it on {day:%d %b %Y}.",
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


def _wrong_tax(line: dict, rates: TaxRates, day: date, taxes_seen: int | None) -> Decimal | None:
    """The tax the rates give for the line if it charged another, None if right or unknown."""
    net = line["quantity"] * line["unit_price"] - line["discount"]
    expected = rates.expected_tax(line["tax_code"], net, day, taxes_seen)
    if expected is None or abs(line["tax_amount"] - expected) <= TAX_TOLERANCE:
        return None
    return expected


def _tax_finding(
    arrival: Arrival, number: int, line: dict, expected: Decimal, day: date, now: datetime
) -> dict:
    net = line["quantity"] * line["unit_price"] - line["discount"]
    return finding(
        TAX_MISMATCH,
        arrival,
        f"Line {number}: tax charged {line['tax_amount']:.2f}; expected {expected:.2f} from "
        f"{line['tax_code']} on {net:.2f} at the rate valid on {day:%d %b %Y}.",
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


def _same_price(found: Decimal, expected: Decimal) -> bool:
    # Registers charge in cents: a price list entry of 4.995 is rung up as 5.00.
    return found == expected or found == expected.quantize(CENT)
