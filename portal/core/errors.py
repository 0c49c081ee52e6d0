"""Domain errors raised by services and the one JSON error shape the API returns."""

from typing import Any


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
    return {"error": {"code": code, "message": message, "fields": fields or {}}}
