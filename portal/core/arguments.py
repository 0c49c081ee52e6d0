"""Request bodies the OpenAPI document calls required are required."""

import functools

from flask import request
from flask_smorest import Blueprint

from portal.core.errors import ValidationFailed

BODY_REQUIRED = "A JSON body is required."


class RequiredBodies(Blueprint):
    """flask-smorest's `arguments`, refusing a request without the JSON body it documents.

    webargs reads a missing body as `{}`, which a PATCH's partial schema takes as "change
    nothing" and answers 200: the document would promise a body the server never asked for.
    """

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """Document and parse the arguments; a required JSON body must be there."""
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
