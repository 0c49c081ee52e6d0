"""What a column can store, checked where client values come in, naming the field.

Every route reads its input through here: the API's argument parser (JSON bodies and query
arguments), the pages' query arguments and forms, and the upload's field readers. A value no
column can hold, or that no conversion survives, is refused as a field error (4xx) instead of
failing in the database or in Python (a 500): text with a NUL character (PostgreSQL refuses it)
or a lone surrogate (not Unicode text: no driver can encode it), a time that leaves the calendar
when converted to UTC, a number that is not finite or beyond what any column holds, a whole
number beyond 64 bits.
"""

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import request

from portal.core.errors import NotFound, ValidationFailed

NUL = "\x00"
NUL_MESSAGE = "Must not contain the NUL character (U+0000)."
SURROGATE_MESSAGE = "Must not contain a lone surrogate (U+D800 to U+DFFF): not Unicode text."
REFUSED = "The request holds values that cannot be stored"

# A day to spare at each end of Python's calendar: every time in range can still be converted to
# any UTC offset, and a day's end (the next midnight) computed, without leaving the calendar.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
TIME_MESSAGE = "Between 0001-01-02 and 9999-12-30 (in UTC)."
# The widest amount HQ stores (NUMERIC(18, 4)) stays below 10^14.
DECIMAL_LIMIT = Decimal("1e14")
DECIMAL_MESSAGE = "A finite number below 10^14 in size."


class Unstorable(ValueError):
    """A value no column can hold; the message says why, for the person who sent it."""


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored (a NUL character, a lone surrogate), or None if it can."""
    if NUL in value:
        return NUL_MESSAGE
    if value.isascii():  # most text, and it holds no surrogate: no need to encode it
        return None
    try:
        value.encode()
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def printable(value: str) -> str:
    """A text made storable to name it in a message: surrogates and NUL written as escapes."""
    return value.encode("utf-8", "backslashreplace").decode().replace(NUL, "\\x00")


def check_time(value: datetime) -> datetime:
    """The time itself, if it lies in the range every column and UTC conversion holds."""
    try:
        at = value.astimezone(UTC) if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        raise Unstorable(TIME_MESSAGE) from None
    if not EARLIEST <= at <= LATEST:
        raise Unstorable(TIME_MESSAGE)
    return value


def check_day(value: date) -> date:
    """The day itself, if it lies in the range whose start and end can be computed in UTC."""
    if not EARLIEST.date() <= value <= LATEST.date():
        raise Unstorable(TIME_MESSAGE)
    return value


def check_decimal(value: Decimal | float) -> Decimal | float:
    """The number itself, if it is finite and below what the widest amount column holds."""
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite or abs(value) >= DECIMAL_LIMIT:
        raise Unstorable(DECIMAL_MESSAGE)
    return value


def check_int(value: int, bits: int = 64) -> int:
    """The whole number itself, if it fits a signed integer column of `bits` bits."""
    limit = 2 ** (bits - 1)
    if not -limit <= value < limit:
        raise Unstorable(f"A whole number between {-limit} and {limit - 1}.")
    return value


def problems(value: Any, path: str = "") -> dict[str, str]:
    """Every part of a parsed value that cannot be stored, by dotted path (`rows.0.name`).

    Strings and keys (a key is named escaped), times, days, decimals, floats and integers.
    """
    found: dict[str, str] = {}
    _walk(value, path, found)
    return found


def _walk(value: Any, path: str, found: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}{printable(key) if isinstance(key, str) else key}"
            if isinstance(key, str) and (problem := text_problem(key)):
                found[name] = problem
            else:
                _walk(item, f"{name}.", found)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, f"{path}{index}.", found)
        return
    problem = _scalar_problem(value)
    if problem:
        found[path.rstrip(".") or "value"] = problem


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            check_int(value)
        elif isinstance(value, datetime):
            check_time(value)
        elif isinstance(value, date):
            check_day(value)
        elif isinstance(value, Decimal | float):
            check_decimal(value)
    except Unstorable as error:
        return str(error)
    return None


def refuse_unstorable(value: Any) -> None:
    """Raise ValidationFailed naming every part of a parsed value that cannot be stored."""
    found = problems(value)
    if found:
        raise refusal(found)


def refuse_unstorable_in_query_and_form() -> None:
    """Refuse query arguments and form fields that cannot be stored, naming them.

    A part of the URL path that cannot be stored names no row: 404.
    """
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and text_problem(value):
            raise NotFound(f"There is no {name.replace('_', ' ')} '{printable(value)}'.")
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    fields: dict[str, str] = {}
    for source in sources:
        for key, value in source.items(multi=True):
            problem = text_problem(key) or text_problem(value)
            if problem:
                fields[printable(key) or "(empty name)"] = problem
    if fields:
        raise refusal(fields)


def refusal(fields: dict[str, str]) -> ValidationFailed:
    """The error naming the fields that cannot be stored; a page shows only its message."""
    named = "; ".join(f"{name}: {problem}" for name, problem in list(fields.items())[:3])
    more = f" (and {len(fields) - 3} more)" if len(fields) > 3 else ""
    return ValidationFailed(f"{REFUSED}: {named}{more}", fields)
