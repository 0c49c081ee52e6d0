"""Reading an uploaded batch as a whole: exact JSON, its shape, its limits and its key."""

import json
from decimal import Decimal
from typing import Any

from portal.core.errors import DomainError, ValidationFailed
from portal.core.storable import text_problem

MAX_TRANSACTIONS = 500
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_KEY_LENGTH = 100


class MalformedJson(DomainError):
    """The body is not JSON at all."""

    status = 400
    code = "malformed_json"


def parse(body: bytes) -> Any:
    """The JSON body with every non-integer number read as an exact Decimal, never a float."""
    try:
        return json.loads(
            body, parse_float=_number, parse_int=_number_or_int, parse_constant=_no_constant
        )
    except (ValueError, RecursionError) as error:
        raise MalformedJson(f"The body is not valid JSON: {error}") from None


def transactions_of(payload: Any) -> list[Any]:
    """The batch's transactions, or ValidationFailed if the batch as a whole is unusable."""
    if not isinstance(payload, dict):
        raise ValidationFailed(
            "Send a JSON object with a 'transactions' list.", {"transactions": "Required."}
        )
    fields = {name: "Unknown field." for name in payload.keys() - {"transactions"}}
    items = payload.get("transactions")
    message = "The batch has unknown fields." if fields else ""
    if not isinstance(items, list):
        fields["transactions"] = "Required." if items is None else "A list."
        message = "Send a JSON object with a 'transactions' list."
    elif len(items) > MAX_TRANSACTIONS:
        fields["transactions"] = f"At most {MAX_TRANSACTIONS} per batch."
        message = f"A batch holds at most {MAX_TRANSACTIONS} transactions; send the rest after it."
    if fields:
        raise ValidationFailed(message, fields)
    return items


def checked_key(key: str | None) -> str | None:
    """The Idempotency-Key header trimmed, None if absent; ValidationFailed if unusable."""
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or text_problem(key):
        message = f"1 to {MAX_KEY_LENGTH} characters."
        raise ValidationFailed(
            "The Idempotency-Key header is not valid.", {"Idempotency-Key": message}
        )
    return key


def _number(text: str) -> Decimal:
    """A JSON number as an exact Decimal; one beyond any exponent reads as infinite.

    The readers refuse an infinite number as that field's error, so the sale is rejected and
    its neighbours still go in.
    """
    try:
        return Decimal(text)
    except ArithmeticError:
        return Decimal("-Infinity" if text.startswith("-") else "Infinity")


def _number_or_int(text: str) -> int | Decimal:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        return Decimal("-Infinity" if text.startswith("-") else "Infinity")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")
