"""Checks on identifiers and values shared by several features."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from portal.core.errors import ValidationFailed

_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def normalise_number(value: str | None, field: str, max_length: int) -> str:
    """Return a store or register number trimmed and upper-cased, or raise with a clear message."""
    number = (value or "").strip().upper()
    if not number:
        raise ValidationFailed(f"{_label(field)} is required.", {field: "Required."})
    if len(number) > max_length:
        message = f"At most {max_length} characters."
        raise ValidationFailed(f"{_label(field)} is too long.", {field: message})
    if not _NUMBER.match(number):
        message = "Use letters, digits, '-', '_' or '.', starting with a letter or digit."
        raise ValidationFailed(f"{_label(field)} '{number}' is not valid.", {field: message})
    return number


def normalise_name(value: str | None, field: str, max_length: int) -> str:
    """Return a display name trimmed, or raise if empty or too long."""
    name = (value or "").strip()
    if not name:
        raise ValidationFailed(f"{_label(field)} is required.", {field: "Required."})
    if len(name) > max_length:
        message = f"At most {max_length} characters."
        raise ValidationFailed(f"{_label(field)} is too long.", {field: message})
    return name


def normalise_currency(value: str | None) -> str:
    """Return an ISO 4217 style currency code (three letters)."""
    code = (value or "").strip().upper()
    if not _CURRENCY.match(code):
        message = "Three letters, e.g. USD."
        raise ValidationFailed("Currency must be an ISO code.", {"currency": message})
    return code


def check_time_zone(value: str | None) -> str:
    """Return an IANA time zone name (e.g. America/Chicago), or raise."""
    name = (value or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        message = "An IANA name such as America/Chicago."
        raise ValidationFailed(f"Unknown time zone '{name}'.", {"time_zone": message}) from None
    return name


def check_range(value: int | None, field: str, low: int, high: int) -> int:
    """Return an integer within [low, high], or raise."""
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{_label(field)} must be a whole number.", {field: "Required."})
    if not low <= value <= high:
        message = f"Between {low} and {high}."
        raise ValidationFailed(f"{_label(field)} is out of range.", {field: message})
    return value


@cache
def time_zone_choices() -> tuple[str, ...]:
    """All IANA time zone names, sorted, for pickers."""
    # Reading the zone database takes tens of milliseconds, and it cannot change while running.
    return tuple(sorted(available_timezones()))


# Field names end in their unit; people read it spelled out: "Offline timeout (seconds)".
_UNITS = {"_s": " (seconds)", "_min": " (minutes)"}


def _label(field: str) -> str:
    for suffix, unit in _UNITS.items():
        if field.endswith(suffix):
            field = field.removesuffix(suffix) + unit
    return field.replace("_", " ").capitalize()


class FieldErrors:
    """Collects the field errors of several checks so a form reports them all at once."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.messages: list[str] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        """Run one check; a ValidationFailed inside is recorded instead of raised."""
        try:
            yield
        except ValidationFailed as error:
            self.fields.update(error.fields)
            self.messages.append(error.message)

    def raise_if_any(self) -> None:
        """Raise one ValidationFailed carrying every recorded error."""
        if self.messages:
            raise ValidationFailed(" ".join(self.messages), self.fields)
