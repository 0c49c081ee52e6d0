"""The JSON API's plumbing: one error shape, list arguments, and the blueprint class."""

import json
import re
from http import HTTPStatus

import marshmallow as ma
from flask import request
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException
from werkzeug.routing import UnicodeConverter

from portal.core.arguments import StrictArguments
from portal.core.errors import error_body, render_error
from portal.core.storable import refuse_unstorable

API_PREFIX = "/api/v1"


class ErrorDetailSchema(ma.Schema):
    """What went wrong: a machine code, a sentence for people, and per-field messages."""

    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    fields = ma.fields.Dict(
        required=True,
        metadata={
            "description": "One message per field, keyed by its dotted path, e.g. "
            "`scopes.0.name`: `Required.`"
        },
    )


class ErrorSchema(ma.Schema):
    """The one error body of the API."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class ListArgsSchema(ma.Schema):
    """Query arguments every list endpoint takes."""

    q = ma.fields.String(metadata={"description": "Search text"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))
    cursor = ma.fields.String(metadata={"description": "The `next` value of the previous page"})


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A `{"items": [...], "next": cursor}` schema for a list endpoint."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next": ma.fields.String(allow_none=True, required=True),
        },
        name=name,
    )


class DecimalString(ma.fields.Decimal):
    """An exact decimal, sent and answered as a string such as "4.99", and documented so."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("as_string", True)
        kwargs.setdefault("allow_nan", False)
        # apispec calls every Decimal a number, which the string it answers is not.
        kwargs["metadata"] = {"type": "string", "format": "decimal", **kwargs.get("metadata", {})}
        super().__init__(*args, **kwargs)


class PortalApi(Api):
    """flask-smorest's Api, answering errors in our shape and leaving HTML pages alone."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        """JSON errors for the API paths; the HTML handlers answer everything else."""
        if not request.path.startswith(API_PREFIX):
            return render_error(error)
        data = getattr(error, "data", None) or {}
        fields = data.get("errors") or data.get("messages") or {}
        # webargs nests errors by location ("json", "query"); a client wants the field names.
        # A body that is not JSON at all gets a list of messages under its location instead.
        if set(fields) <= {"json", "query", "form", "headers", "path"}:
            fields = {
                k: v
                for location, errors in fields.items()
                for k, v in (errors if isinstance(errors, dict) else {location: errors}).items()
            }
        code = error.name.lower().replace(" ", "_")
        message = data.get("message") or error.description or error.name
        if error.code == 422:
            code, message = "validation_failed", "The request has invalid fields."
        # Keep what the exception tells the client besides its HTML body: 405's Allow, 416's
        # Content-Range.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return error_body(code, message, fields), error.code, headers


class StorableParser(FlaskParser):
    """webargs' parser, refusing values no column can store, by field, for every route.

    The JSON body is checked before the schema reads it (every string and key: the schema's
    own messages echo them); what the schema made of the body or the query (times, decimals,
    whole numbers) is checked after.
    """

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as error:
            # Nested too deeply, a number with more digits than Python reads: a body that is
            # not JSON it can use, answered 400 like any other, not a crash of the parser.
            raise json.JSONDecodeError(str(error) or "Nested too deeply", "", 0) from None

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        refuse_unstorable(data)
        return data

    def parse(self, *args, **kwargs):
        data = super().parse(*args, **kwargs)
        refuse_unstorable(data)
        return data


class ApiBlueprint(StrictArguments, Blueprint):
    """A flask-smorest blueprint whose arguments go through `StorableParser`."""

    ARGUMENTS_PARSER = StorableParser()


def api_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A blueprint of the admin API under /api/v1."""
    return ApiBlueprint(
        name, import_name, url_prefix=API_PREFIX + url_prefix, description=description
    )


class RecordKey(UnicodeConverter):
    """A `<key:...>` URL part naming one record of a collection by its number or name.

    It leaves out the names of the collection's own actions (`bulk`, `export.csv`,
    `import.csv`), so `/registers/bulk` is that action alone: its `Allow` header and 405 answers
    list the action's methods, not the union with the record's.
    """

    ACTIONS = ("bulk", "export.csv", "import.csv")

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, *args, **kwargs)
        # Keeps the length bounds the document is written from: [^/]{1,}.
        actions = "|".join(re.escape(action) for action in self.ACTIONS)
        self.regex = f"(?!(?:{actions})$){self.regex}"


def errors(blp: Blueprint, *statuses: int):
    """A decorator documenting a handler's error answers, e.g. `@errors(blp, 401, 403, 404)`."""

    def decorate(func):
        # Last first, as a stack of `@blp.alt_response` lines in this order would apply them.
        for status in reversed(statuses):
            func = blp.alt_response(status, response=HTTPStatus(status).name)(func)
        return func

    return decorate
