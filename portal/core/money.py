"""Money as people read it: in its currency, with its symbol and decimals (Babel's CLDR data)."""

from decimal import Decimal

from babel.numbers import UnknownCurrencyError, format_currency

# The portal's pages are in English; the currency decides the symbol and the decimals.
LOCALE = "en_US"


def money(amount: Decimal | None, currency: str | None) -> str:
    """`amount` in `currency` ("$1,234.50", "CA$12.00", "¥1,200"); plain when no currency."""
    if amount is None:
        return "—"
    if not currency:
        return f"{amount:,.2f}"
    try:
        # Never rounded: an amount with more decimals than its currency shows them all.
        return format_currency(amount, currency, locale=LOCALE, decimal_quantization=False)
    except UnknownCurrencyError:
        return f"{amount:,.2f} {currency}"
