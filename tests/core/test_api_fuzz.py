"""Schema-driven fuzzing of the JSON API from its own OpenAPI document.

Every operation gets generated valid and invalid requests; none may answer 500, every answer
must match what the document promises (status, content type, body schema), and a request the
schema forbids must be refused. A request the schema allows may still break a business rule
(an unknown group, a taken store number), so a 4xx for it is not a failure.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from portal import create_app, demo
from portal.device_api import credentials
from portal.extensions import db, limiter

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _operations() -> list[tuple[str, str]]:
    # Collected from a throwaway app, so each operation is a test of its own in the report.
    document = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).test_client()
    paths = document.get("/api/v1/openapi.json").get_json()["paths"]
    return [
        (path, method) for path, item in paths.items() for method in item if method in HTTP_METHODS
    ]


@pytest.fixture
def api_schema(app):
    """The OpenAPI document as the portal serves it over demo data, driven in-process."""
    with app.app_context():
        demo.seed(products=50)
        db.session.commit()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def device_headers(app, api_schema) -> dict[str, str]:
    """The Bearer header of the demo register HOUSTON-1's activated device."""
    with app.app_context():
        database = credentials.find_database("HOUSTON-1")
        _, code = credentials.issue_activation_code(database)
        _, secret, _ = credentials.activate(database.id, code)
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(("path", "method"), _operations())
def test_every_operation_answers_as_documented(api_schema, token_for, device_headers, path, method):
    # The device endpoints take a device's token, the others a user's; with the wrong kind
    # every request would stop at 401 and the fuzzing would never reach the handlers.
    headers = device_headers if path.startswith("/api/v1/device/") else token_for("admin")
    operation = api_schema[path][method.upper()]

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case):
        # Activation's rate limit would otherwise answer most of the examples with 429.
        limiter.reset()
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    answers_as_documented()
