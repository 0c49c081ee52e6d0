"""One editable column of master data: its kind, limits, and how an input becomes its value.

Inputs arrive as text (forms, CSV cells) or as JSON values (the API); `Field.parse` turns either
into the exact Python value the column stores, or raises Invalid with a message for people.
"""

import copy
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from portal.core.storable import Unstorable, check_int, problems

TRUE = frozenset({"1", "true", "t", "yes", "y", "on", "x"})
FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_INTEGER = re.compile(r"^[+-]?\d+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Invalid(ValueError):
    """A value a field cannot take; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class Field:
    """One editable column: its kind (str, int, bool, decimal, date, list, object) and limits."""

    name: str
    kind: str
    nullable: bool
    default: Any = None
    has_default: bool = False
    max_length: int | None = None
    digits: int | None = None
    places: int | None = None
    low: Any = None
    high: Any = None
    pattern: tuple[str, str] | None = None
    bits: int = 64

    @property
    def label(self) -> str:
        """The field's name for people."""
        return self.name.replace("_", " ").capitalize()

    def parse(self, raw: Any) -> Any:
        """The typed value of an input (text from a form or CSV, or a JSON value), or Invalid."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return self._blank()
        value = getattr(self, f"_{self.kind}")(raw)
        # Text from a form, a CSV cell or JSON inside it may hold what no column can store.
        if found := problems(value):
            raise Invalid(next(iter(found.values())))
        if self.low is not None and value < self.low:
            raise Invalid(f"At least {_plain(self.low)}.")
        if self.high is not None and value > self.high:
            raise Invalid(f"At most {_plain(self.high)}.")
        if self.pattern and not re.fullmatch(self.pattern[0], value):
            raise Invalid(self.pattern[1])
        return value

    def _blank(self) -> Any:
        if self.kind == "bool" and not self.nullable:
            return bool(self.default)
        if self.nullable:
            return None
        if self.has_default:
            # A fresh copy: list and object defaults must not be shared between rows.
            return copy.deepcopy(self.default)
        raise Invalid("Required.")

    def _str(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise Invalid("Must be text.")
        value = raw.strip()
        if self.max_length and len(value) > self.max_length:
            raise Invalid(f"At most {self.max_length} characters.")
        return value

    def _int(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise Invalid("Not a whole number.")
        if isinstance(raw, str) and _INTEGER.match(raw.strip()):
            try:
                raw = int(raw.strip())
            except ValueError:  # more digits than Python converts
                raise Invalid("Not a whole number.") from None
        if not isinstance(raw, int):
            raise Invalid("Not a whole number.")
        try:
            return check_int(raw, self.bits)
        except Unstorable as error:
            raise Invalid(str(error)) from None

    def _bool(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower() if isinstance(raw, str | int) else ""
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise Invalid("Not true or false.")

    def _decimal(self, raw: Any) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
            raise Invalid("Not a decimal.")
        try:
            # A JSON number arrives as a float; its shortest text is the number the client wrote.
            value = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
        except InvalidOperation:
            raise Invalid("Not a decimal.") from None
        if not value.is_finite():
            raise Invalid("Not a decimal.")
        if self.places is not None and -value.normalize().as_tuple().exponent > self.places:
            raise Invalid(f"At most {self.places} decimal places.")
        if self.digits is not None and abs(value) >= 10 ** (self.digits - (self.places or 0)):
            raise Invalid("Too large.")
        return value

    def _date(self, raw: Any) -> date:
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if isinstance(raw, str) and _ISO_DATE.match(raw.strip()):
            try:
                return date.fromisoformat(raw.strip())
            except ValueError:
                pass
        raise Invalid("Not a date (YYYY-MM-DD).")

    def _list(self, raw: Any) -> list[str]:
        if isinstance(raw, str):
            text = raw.strip()
            if text.startswith("["):
                raw = _json(text, "Not a JSON list.")
            else:
                # Forms and CSV cells write a list as "A, B" (or "A; B").
                raw = [item for item in re.split(r"[,;]", text) if item.strip()]
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise Invalid("A list of codes, e.g. A, B.")
        return [item.strip() for item in raw]

    def _object(self, raw: Any) -> dict:
        if isinstance(raw, str):
            raw = _json(raw, "Not a JSON object.")
        if not isinstance(raw, dict):
            raise Invalid("Not a JSON object.")
        return raw


def _plain(number: Any) -> str:
    # Decimal's str() may use an exponent (1E-8); people read plain digits.
    return format(number, "f") if isinstance(number, Decimal) else str(number)


def _json(text: str, message: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Invalid(message) from None


def field_from_column(column: sa.Column, **limits: Any) -> Field:
    """The field of a model column: kind, length, precision, nullability and default.

    `limits` adds what the column cannot say: `low`, `high` and `pattern`.
    """
    column_type = column.type
    options: dict[str, Any] = {}
    if isinstance(column_type, sa.Boolean):
        kind = "bool"
    elif isinstance(column_type, sa.Integer):
        kind = "int"
        options = {"bits": 64 if isinstance(column_type, sa.BigInteger) else 32}
    elif isinstance(column_type, sa.Numeric):
        kind = "decimal"
        options = {"digits": column_type.precision, "places": column_type.scale}
    elif isinstance(column_type, sa.Date):
        kind = "date"
    elif isinstance(column_type, sa.JSON):
        kind = "list" if isinstance(column.default.arg(None), list) else "object"
    else:
        kind = "str"
        options = {"max_length": column_type.length}
    default = column.default
    if default is not None:
        options["has_default"] = True
        options["default"] = default.arg(None) if default.is_callable else default.arg
    return Field(column.key, kind, bool(column.nullable), **options, **limits)


def json_value(value: Any) -> Any:
    """A column value as JSON carries it: decimals as exact text, dates in ISO format."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
