"""Readers of one field of an uploaded transaction: each returns the typed value or records why not.

Each reader takes the item (a dict from the JSON body), the field's name and the errors found so
far, keyed by field path; a refused field yields a harmless stand-in so checking goes on and every
error is reported at once.
"""

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from portal.core.storable import Unstorable, check_time, printable, text_problem

MAX_SEQUENCE = 2**63 - 1
PLACES = Decimal("0.0001")
LIMIT = Decimal("1e14")
ZERO = Decimal(0)
UNKNOWN = "Unknown field."
REQUIRED = "Required."

_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")
# Text that needs no range check: below 10^14, at most 4 places. Nearly every value is like it.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,14}(\.[0-9]{1,4})?")
_PLAIN_LENGTH = 20
# A UUID written as `str(uuid.UUID(...))` writes it: lower-case hex with hyphens.
CANONICAL_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CANONICAL_UUID = re.compile(CANONICAL_UUID)


def unknown(item: dict, known: frozenset[str], path: str, errors: dict[str, str]) -> None:
    """Name every field the shape does not know: nothing sent is silently ignored."""
    if item.keys() <= known:  # nearly always: no set of the others to make
        return
    for name in item.keys() - known:
        errors[f"{path}{printable(name)}"] = UNKNOWN


def transaction_id(item: dict, errors: dict[str, str]) -> str:
    """The sale's UUID, lower-case with hyphens whatever form it came in."""
    raw = item.get("transaction_id")
    if raw is None:
        errors["transaction_id"] = REQUIRED
        return ""
    if isinstance(raw, str) and _CANONICAL_UUID.fullmatch(raw):
        return raw  # as registers send it, and as it is stored: nothing to convert
    try:
        if not isinstance(raw, str):
            raise ValueError
        return str(uuid.UUID(raw))
    except ValueError:
        errors["transaction_id"] = "A UUID, e.g. 0b7c5d1e-8f0a-4c3e-9d2b-6a1f4e8c7b21."
        return ""


def text(
    item: dict,
    name: str,
    max_length: int,
    errors: dict[str, str],
    path: str = "",
    upper: bool = False,
    allow_empty: bool = False,
    default: str | None = None,
) -> str:
    """Text a column can store (no NUL, no lone surrogate), stripped, within its length."""
    raw = item.get(name)
    if raw is None:
        if default is not None:
            return default
        errors[path + name] = REQUIRED
        return ""
    if not isinstance(raw, str):
        errors[path + name] = "Text."
        return ""
    value = raw.strip()
    if not value and not allow_empty:
        errors[path + name] = REQUIRED
    elif len(value) > max_length:
        errors[path + name] = f"At most {max_length} characters."
    elif problem := text_problem(value):
        errors[path + name] = problem
    return value.upper() if upper else value


def sequence(item: dict, errors: dict[str, str]) -> int:
    """The register's sequence number of the sale, from 1."""
    raw = item.get("sequence")
    if raw is None:
        errors["sequence"] = REQUIRED
    elif isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_SEQUENCE:
        errors["sequence"] = "A whole number from 1."
    else:
        return raw
    return 0


def timestamp(item: dict, name: str, errors: dict[str, str]) -> datetime:
    """An ISO 8601 time that carries its UTC offset in whole minutes and can be stored in UTC."""
    raw = item.get(name)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    if raw is None:
        errors[name] = REQUIRED
        return epoch
    try:
        if not isinstance(raw, str):
            raise ValueError
        value = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = "ISO 8601 with the UTC offset, e.g. 2026-11-20T14:03:11+01:00."
        return epoch
    offset = value.utcoffset()
    if offset is None:
        errors[name] = "Include the register's UTC offset, e.g. +01:00 or Z."
    elif offset.total_seconds() % 60:
        errors[name] = "The UTC offset must be whole minutes."
    else:
        try:
            return check_time(value)
        except Unstorable as error:
            errors[name] = str(error)
    return epoch


def decimal(
    item: dict, name: str, errors: dict[str, str], path: str = "", default: Decimal | None = None
) -> Decimal:
    """An exact decimal from text or a JSON number: finite, below 10^14, at most 4 places."""
    raw = item.get(name)
    if raw is None:
        if default is not None:
            return default
        errors[path + name] = REQUIRED
        return ZERO
    if isinstance(raw, str):
        if len(raw) <= _PLAIN_LENGTH and (number := plain_number(raw)) is not None:
            return number
        number = Decimal(raw) if _DECIMAL_TEXT.fullmatch(raw) else None
    elif isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        number = Decimal(raw)
    else:
        number = None
    if number is None or not number.is_finite():
        errors[path + name] = 'A decimal number, e.g. "4.99".'
    elif abs(number) >= LIMIT:
        errors[path + name] = "Too large."
    elif number != number.quantize(PLACES):
        errors[path + name] = "At most 4 decimal places."
    else:
        return number
    return ZERO


def flag(item: dict, name: str, errors: dict[str, str], path: str) -> bool:
    """A true or false field, false when left out."""
    raw = item.get(name, False)
    if not isinstance(raw, bool):
        errors[path + name] = "true or false."
        return False
    return raw


@lru_cache(maxsize=4096)
def plain(value: Decimal) -> str:
    """A finite decimal as text with 4 places (and no negative zero).

    Remembered: prices, quantities and discounts recur from sale to sale, and equal decimals
    (1.5 and 1.50) read the same.
    """
    return f"{value:.4f}" if value else "0.0000"


@lru_cache(maxsize=4096)
def plain_number(text: str) -> Decimal | None:
    """Short decimal text that needs no range check as a Decimal, else None.

    Remembered as `plain` is; only short text comes here, so the cache stays small.
    """
    return Decimal(text) if _PLAIN_DECIMAL.fullmatch(text) else None


def objects(
    item: dict,
    name: str,
    known: frozenset[str],
    most: int,
    errors: dict[str, str],
    at_least_one: str | None = None,
) -> Iterator[tuple[str, dict]]:
    """Each object of a list field with its error path (`lines[0].`), its unknown fields named.

    With `at_least_one` (the noun of one entry) an empty list is an error too.
    """
    raw = item.get(name)
    if not isinstance(raw, list) or (at_least_one and not raw):
        shape = f"A list of at least one {at_least_one}." if at_least_one else "A list."
        errors[name] = REQUIRED if raw is None else shape
        return
    if len(raw) > most:
        errors[name] = f"At most {most} {name}."
        return
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            errors[f"{name}[{index}]"] = "Must be an object."
            continue
        path = f"{name}[{index}]."
        unknown(entry, known, path, errors)
        yield path, entry
