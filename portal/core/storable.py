"""NUL characters: no text column can hold U+0000 (PostgreSQL refuses it outright), so what
clients send is refused on the way in, naming the field, rather than failing in the database."""

from typing import Any

from flask import request

from portal.core.errors import ValidationFailed

NUL = "\x00"
NUL_MESSAGE = "Must not contain the NUL character (U+0000)."
NUL_REFUSED = "The request holds a NUL character."
# JSON can only carry a NUL escaped: bodies without the escape need no closer look.
ESCAPED_NUL = b"\\u0000"


def holds_nul(value: Any) -> bool:
    """Whether a parsed JSON value has a NUL character in any of its strings or keys."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


def refuse_nul_in_query_and_form() -> None:
    """Refuse query arguments and form fields holding a NUL character, naming them."""
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    fields = {
        key or "(empty name)": NUL_MESSAGE
        for source in sources
        for key, value in source.items(multi=True)
        if NUL in key or NUL in value
    }
    if fields:
        raise ValidationFailed(NUL_REFUSED, fields)
