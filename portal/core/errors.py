"""Domain errors raised by services, the one JSON error shape, and the HTML error page."""

from typing import Any

from flask import render_template
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A business rule refused the request; carries an HTTP status and a clear message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        """Render the error as the API's `{"error": {...}}` body."""
        return error_body(self.code, self.message, self.fields)


class ValidationFailed(DomainError):
    """Input is malformed or out of range; `fields` says which and why."""

    status = 422
    code = "validation_failed"


class Unauthorized(DomainError):
    """No valid credentials came with an API request."""

    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    """The caller is known but its role lacks the permission."""

    status = 403
    code = "forbidden"


class NotFound(DomainError):
    """The referenced record does not exist (or is not visible to the caller)."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (duplicate, still in use, ...)."""

    status = 409
    code = "conflict"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the single JSON error shape used by every API endpoint."""
    return {"error": {"code": code, "message": message, "fields": flat_fields(fields or {})}}


# marshmallow's wording of the services' "Required.", so one refusal reads the same either way.
_SAME_AS_SERVICES = {"Missing data for required field.": "Required."}


def flat_fields(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Field errors as one message per dotted path, `scopes.0.name`, whoever found them.

    marshmallow nests them (`{"scopes": {0: {"name": ["..."]}}}`) and lists the messages; the
    services name the path and give one message. Other values (an id a client needs) stay.
    """
    flat: dict[str, Any] = {}
    for key, value in fields.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_fields(value, f"{path}."))
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            flat[path] = " ".join(_SAME_AS_SERVICES.get(item, item) for item in value)
        else:
            flat[path] = value
    return flat


def render_error(error: HTTPException):
    """An HTML error page in the portal's layout."""
    return render_template("error.html", error=error), error.code
