"""Arguments as the OpenAPI document states them, nothing more lenient."""

import functools

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from portal.core.errors import ValidationFailed

BODY_REQUIRED = "A JSON body is required."


class StrictArguments(Blueprint):
    """flask-smorest's `arguments`, holding requests to the document.

    A body the document calls required must be there: webargs reads a missing body as `{}`,
    which a PATCH's partial schema would take as "change nothing" and answer 200. A query
    parameter the operation does not define is refused by name, so a misspelt filter
    (`?stor=HOUSTON`) never passes for no filter at all.
    """

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """Document and parse the arguments; a required JSON body must be there."""
        if location == "query":
            kwargs.setdefault("unknown", ma.RAISE)
        if isinstance(schema, type):
            # webargs makes a schema of a class on every request (marshmallow deep-copies its
            # fields each time); an instance is made once and, never changed, serves them all.
            schema = schema()
        decorator = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return decorator

        def decorate(func):
            parsed = decorator(func)

            @functools.wraps(parsed)
            def wrapper(*args, **kw):
                if not request.get_data(cache=True):
                    raise ValidationFailed(BODY_REQUIRED, {"json": BODY_REQUIRED})
                return parsed(*args, **kw)

            return wrapper

        return decorate


class StrictBoolean(ma.fields.Boolean):
    """A JSON `true` or `false`, as the document's `boolean` says; not 0, 1 or "yes"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
