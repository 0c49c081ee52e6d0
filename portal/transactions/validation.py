"""Checking one uploaded transaction and reducing it to a canonical form with a content hash.

The rules a sale must meet (beyond the shape of `schemas.TransactionSchema`):

- `transaction_id` is a UUID, stored lower-case with hyphens whatever form it came in.
- `created_at` carries its UTC offset: it is stored in UTC and the offset in
  `utc_offset_minutes`, so auditors see the shop's local time as the register did.
- Money and quantities are exact decimals with at most 4 places (as text like "4.99", or JSON
  numbers, which the API reads as decimals, never floats), below 10^14 in size.
- A line's amount is quantity × unit price − discount; the quantity is never zero (negative
  for a return), the unit price never negative, and the discount lies between 0 and
  quantity × unit price (so it is negative or zero on a return).
- Prices exclude tax: the total is the sum of the line amounts plus their tax amounts. Registers
  round each line to their currency, so the total may differ from the exact sum by at most 0.01
  per line; it may not differ more.
- The payments (net of change given) add up to the total exactly.
- A sale has 1 to 1,000 lines and at most 50 payments; a field the shape does not name, at any
  level, is an error, never ignored.
- `kind` is sale (the default), return or void. `offline_since`, only for a sale made offline,
  carries its UTC offset and is not after `created_at`. A line's `price_override` is true or
  false (the default).

Two uploads of a sale are the same content when their canonical forms match: every decimal is
written with 4 places, the register number upper-case, the time in ISO 8601 with its offset.
`kind`, `offline_since` and `price_override` are in the canonical form only when given with a
value other than their default, so the hashes of sales stored before they existed stay the same.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from portal.core.storable import printable
from portal.transactions import readers as read
from portal.transactions.models import KIND_SALE, TRANSACTION_KINDS
from portal.transactions.readers import REQUIRED, ZERO
from portal.transactions.schemas import (
    TransactionLineSchema,
    TransactionPaymentSchema,
    TransactionSchema,
    field_names,
)

TRANSACTION_FIELDS = field_names(TransactionSchema)
LINE_FIELDS = field_names(TransactionLineSchema)
PAYMENT_FIELDS = field_names(TransactionPaymentSchema)
MAX_LINES = 1000
MAX_PAYMENTS = 50
ROUNDING_PER_LINE = Decimal("0.01")
# The fields of a line but its product: their values recur from sale to sale (a chain sells
# the same few prices, quantities and taxes), so they are checked once and remembered, up to
# REMEMBERED_LINES combinations whose text is short in all: the memory stays small.
REMEMBERED = ("quantity", "unit_price", "discount", "tax_code", "tax_amount")
REMEMBERED_TYPES = frozenset({str, bool, type(None)})
REMEMBERED_LENGTH = 100
REMEMBERED_LINES = 4096
# A JSON string as json.dumps writes it with ensure_ascii=False.
_string = json.encoder.encode_basestring
_remembered: dict[tuple, dict[str, Any] | None] = {}
_remembered_forms: dict[tuple, tuple[dict[str, Any], tuple[str, str], Decimal]] = {}
_NOT_SEEN = object()


@dataclass(slots=True)
class Sale:
    """A transaction that passed every check: typed values, canonical form and its hash."""

    transaction_id: str
    register: str
    sequence: int
    receipt_number: str
    staff: str
    created_at: datetime
    utc_offset_minutes: int
    offline: bool
    offline_since: datetime | None
    kind: str
    lines: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    total: Decimal
    canonical_json: str
    content_sha256: str

    @property
    def canonical(self) -> dict[str, Any]:
        """The canonical form as a JSON object (kept with a conflict for the auditor)."""
        return json.loads(self.canonical_json)


def check(item: Any) -> tuple[Sale | None, dict[str, str]]:
    """The sale an uploaded item describes, or None and every error found, by field path."""
    if not isinstance(item, dict):
        return None, {"transaction": "Must be an object."}
    errors: dict[str, str] = {}
    read.unknown(item, TRANSACTION_FIELDS, "", errors)
    transaction_id = read.transaction_id(item, errors)
    register = read.text(item, "register", 30, errors, "", upper=True)
    sequence = read.sequence(item, errors)
    receipt_number = read.text(item, "receipt_number", 40, errors)
    staff = read.text(item, "staff", 30, errors, allow_empty=True)
    created_at = read.timestamp(item, "created_at", errors)
    offline = item.get("offline")
    if not isinstance(offline, bool):
        errors["offline"] = REQUIRED if offline is None else "true or false."
    offline_since = _offline_since(item, created_at, offline, errors)
    kind = item.get("kind", KIND_SALE)
    if kind not in TRANSACTION_KINDS:
        errors["kind"] = f"One of {', '.join(TRANSACTION_KINDS)}."
    total = read.decimal(item, "total", errors)
    lines = _lines(item, errors)
    payments = _payments(item, errors)
    if errors:
        return None, errors
    return complete(
        transaction_id,
        register,
        sequence,
        receipt_number,
        staff,
        created_at,
        offline,
        offline_since,
        kind,
        lines,
        list(map(_form, lines)),
        sum(map(_amount, lines), ZERO),
        payments,
        total,
    )


def complete(
    transaction_id: str,
    register: str,
    sequence: int,
    receipt_number: str,
    staff: str,
    created_at: datetime,
    offline: bool,
    offline_since: datetime | None,
    kind: str,
    lines: list[dict[str, Any]],
    forms: list[tuple[str, str]],
    amounts: Decimal,
    payments: list[dict[str, Any]],
    total: Decimal,
) -> tuple[Sale | None, dict[str, str]]:
    """The sale of fields each read without error: its sums checked, its canonical form and hash.

    `forms` are the lines' canonical text before and after their product (`_form`),
    `amounts` the sum of their amounts with tax (`_amount`, added in the lines' order). Both
    ways of reading a sale end here (`check`, and `typed_sales` for the sales it takes), so
    they agree on the sums and the content hash by construction.

    The canonical form is written as `json.dumps(form, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` writes it, directly: keys in sorted order, text escaped by the same
    function, decimals by `readers.plain`. Building the dicts and encoding them cost more than
    checking the sale; the form stays json.dumps's, which the tests compare with it.
    """
    errors: dict[str, str] = {}
    _add_up(amounts, len(lines), payments, total, errors)
    if errors:
        return None, errors
    plain = read.plain
    parts = [f'{{"created_at":{_string(created_at.isoformat())}']
    if kind != KIND_SALE:
        parts.append(f',"kind":{_string(kind)}')
    parts.append(',"lines":[')
    for number, (line, (before, after)) in enumerate(zip(lines, forms, strict=True)):
        parts.append(f"{',' if number else ''}{before}{_string(line['product'])}{after}")
    parts.append(f'],"offline":{"true" if offline else "false"}')
    if offline_since is not None:
        parts.append(f',"offline_since":{_string(offline_since.isoformat())}')
    parts.append(',"payments":[')
    parts.append(
        ",".join(
            f'{{"amount":"{plain(payment["amount"])}","method":{_string(payment["method"])}}}'
            for payment in payments
        )
    )
    parts.append(
        f'],"receipt_number":{_string(receipt_number)},"register":{_string(register)}'
        f',"sequence":{sequence},"staff":{_string(staff)},"total":"{plain(total)}"'
        f',"transaction_id":{_string(transaction_id)}}}'
    )
    text = "".join(parts)
    offset = created_at.utcoffset().total_seconds() // 60
    return Sale(
        transaction_id=transaction_id,
        register=register,
        sequence=sequence,
        receipt_number=receipt_number,
        staff=staff,
        created_at=created_at.astimezone(UTC),
        utc_offset_minutes=int(offset),
        offline=offline,
        offline_since=offline_since and offline_since.astimezone(UTC),
        kind=kind,
        lines=lines,
        payments=payments,
        total=total,
        canonical_json=text,
        content_sha256=hashlib.sha256(text.encode()).hexdigest(),
    ), {}


def reported_id(item: Any) -> str | None:
    """The id to name a rejected item by in the response: normalised if it is a UUID."""
    raw = item.get("transaction_id") if isinstance(item, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        # Echoed in the response the upload session keeps: only storable text.
        return printable(raw[:100])


def _offline_since(
    item: dict, created_at: datetime, offline: Any, errors: dict[str, str]
) -> datetime | None:
    if item.get("offline_since") is None:
        return None
    since = read.timestamp(item, "offline_since", errors)
    if "offline_since" in errors:
        return None
    if offline is False:
        errors["offline_since"] = "Only for a sale made offline."
    elif "created_at" not in errors and since > created_at:
        errors["offline_since"] = "Not after created_at."
    return since


def _lines(item: dict, errors: dict[str, str]) -> list[dict[str, Any]]:
    lines = []
    for path, line in read.objects(item, "lines", LINE_FIELDS, MAX_LINES, errors, "line"):
        values = (*map(line.get, REMEMBERED), line.get("price_override", False))
        # Text, true, false or nothing: other types (1 == 1.0 == True) would be mistaken for
        # one another.
        good = _good_values(values) if REMEMBERED_TYPES.issuperset(map(type, values)) else None
        if good is None:
            # Read field by field, which names what is wrong.
            lines.append(_line(path, line, errors))
        else:
            lines.append({"product": read.text(line, "product", 40, errors, path)} | good)
    return lines


def _line(path: str, line: dict, errors: dict[str, str]) -> dict[str, Any]:
    """A line read field by field, each refused field named in `errors`."""
    # A reader that refuses its field adds its error: the checks below are for read values.
    found = len(errors)
    quantity = read.decimal(line, "quantity", errors, path)
    quantity_read = len(errors) == found
    unit_price = read.decimal(line, "unit_price", errors, path)
    found = len(errors)
    discount = read.decimal(line, "discount", errors, path, ZERO)
    discount_read = len(errors) == found
    if quantity_read and not quantity:
        errors[path + "quantity"] = "Must not be zero."
    if unit_price < 0:
        errors[path + "unit_price"] = "Must not be negative."
    gross = quantity * unit_price
    within = gross <= discount <= 0 if gross < 0 else 0 <= discount <= gross
    if discount_read and not within:
        errors[path + "discount"] = "Between 0 and quantity × unit price."
    return {
        "product": read.text(line, "product", 40, errors, path),
        "quantity": quantity,
        "unit_price": unit_price,
        "discount": discount,
        "tax_code": read.text(line, "tax_code", 20, errors, path, allow_empty=True, default=""),
        "tax_amount": read.decimal(line, "tax_amount", errors, path, ZERO),
        "price_override": read.flag(line, "price_override", errors, path),
    }


def remembered_line(
    quantity: str | None,
    unit_price: str | None,
    discount: str | None,
    tax_code: str | None,
    tax_amount: str | None,
    price_override: bool,
) -> tuple[dict[str, Any], tuple[str, str], Decimal] | None:
    """A line's values but its product, given as text (or left out), checked as `check` does,
    with its canonical text around the product and its amount with tax; None if one fails.

    Remembered beside `_remembered`, under the same key and rules: the text of a key hashes
    faster than the decimals `_line_form` is remembered by.
    """
    values = (quantity, unit_price, discount, tax_code, tax_amount, price_override)
    known = _remembered_forms.get(values)
    if known is not None:
        return known
    good = _good_values(values)
    if good is None:
        return None
    known = (good, _form(good), _amount(good))
    if _short(values):
        if len(_remembered_forms) >= REMEMBERED_LINES:
            _remembered_forms.clear()
        _remembered_forms[values] = known
    return known


def _short(values: tuple) -> bool:
    return sum(len(value) for value in values if type(value) is str) <= REMEMBERED_LENGTH


def _good_values(values: tuple) -> dict[str, Any] | None:
    """A line's values but its product (`REMEMBERED`, then price_override), checked, or None
    if one fails; remembered when their text is short."""
    # One look-up: another thread may empty the memory between two.
    good = _remembered.get(values, _NOT_SEEN)
    if good is not _NOT_SEEN:
        return good
    line = dict(zip((*REMEMBERED, "price_override"), values, strict=True), product="-")
    errors: dict[str, str] = {}
    good = _line("", line, errors)
    del good["product"]
    good = None if errors else good
    if _short(values):
        if len(_remembered) >= REMEMBERED_LINES:
            _remembered.clear()
        _remembered[values] = good
    return good


def _payments(item: dict, errors: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "method": read.text(payment, "method", 30, errors, path),
            "amount": read.decimal(payment, "amount", errors, path),
        }
        for path, payment in read.objects(item, "payments", PAYMENT_FIELDS, MAX_PAYMENTS, errors)
    ]


@lru_cache(maxsize=4096)
def _line_form(
    discount: Decimal,
    price_override: bool,
    quantity: Decimal,
    tax_amount: Decimal,
    tax_code: str,
    unit_price: Decimal,
) -> tuple[str, str]:
    """A line's canonical form before and after its product, the fields in sorted order.

    Remembered: what surrounds the product recurs from sale to sale. Equal decimals written
    differently (1.5, 1.50) share an entry, as their canonical text is the same.
    """
    plain = read.plain
    override = ',"price_override":true' if price_override else ""
    return (
        f'{{"discount":"{plain(discount)}"{override},"product":',
        f',"quantity":"{plain(quantity)}","tax_amount":"{plain(tax_amount)}"'
        f',"tax_code":{_string(tax_code)},"unit_price":"{plain(unit_price)}"}}',
    )


def _form(line: dict[str, Any]) -> tuple[str, str]:
    """A line's canonical text before and after its product."""
    return _line_form(
        line["discount"],
        line["price_override"],
        line["quantity"],
        line["tax_amount"],
        line["tax_code"],
        line["unit_price"],
    )


def _amount(line: dict[str, Any]) -> Decimal:
    """A line's amount with its tax, as the total adds it up."""
    return line["quantity"] * line["unit_price"] - line["discount"] + line["tax_amount"]


def _add_up(
    amounts: Decimal, lines: int, payments: list[dict], total: Decimal, errors: dict
) -> None:
    if abs(amounts - total) > ROUNDING_PER_LINE * lines:
        errors["total"] = (
            f"The lines come to {read.plain(amounts)} (quantity × unit price − discount + tax), "
            f"not {read.plain(total)}."
        )
    paid = sum((payment["amount"] for payment in payments), ZERO)
    if paid != total:
        errors["payments"] = (
            f"The payments add up to {read.plain(paid)}, not the total {read.plain(total)}."
        )
