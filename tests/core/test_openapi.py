"""The OpenAPI document lists every admin API endpoint and its error answers truthfully."""

import re

import pytest

from portal.core.api import API_PREFIX
from tests.core.routes import DEVICE_PREFIX

ENDPOINTS = {
    "/api/v1/stores": {"get", "post"},
    "/api/v1/stores/{store_number}": {"get", "patch", "delete"},
    "/api/v1/registers": {"get", "post"},
    "/api/v1/registers/{register_number}": {"get", "patch", "delete"},
    # Channel databases come and go with their stores and with Support offline.
    "/api/v1/channel-databases": {"get"},
    "/api/v1/channel-databases/{database_id}": {"get", "patch"},
    "/api/v1/channel-data-groups": {"get", "post"},
    "/api/v1/channel-data-groups/{name}": {"get", "patch", "delete"},
    "/api/v1/offline-profiles": {"get", "post"},
    "/api/v1/offline-profiles/{name}": {"get", "patch", "delete"},
    "/api/v1/offline-profiles/{name}/preview": {"get"},
    "/api/v1/distribution-schedules": {"get", "post"},
    "/api/v1/distribution-schedules/{code}": {"get", "patch", "delete"},
    "/api/v1/distribution-schedules/{code}/runs": {"post"},
    "/api/v1/runs": {"get"},
    "/api/v1/runs/{run_id}": {"get"},
    "/api/v1/runs/{run_id}/cancel": {"post"},
    "/api/v1/runs/{run_id}/retry": {"post"},
    "/api/v1/download-sessions/{session_id}": {"get"},
    "/api/v1/download-sessions/{session_id}/cancel": {"post"},
    "/api/v1/download-sessions/{session_id}/retry": {"post"},
    "/api/v1/channel-databases/{database_id}/cancel-sessions": {"post"},
    "/api/v1/channel-databases/{database_id}/full-sync": {"post"},
    "/api/v1/channel-databases/full-sync": {"post"},
    "/api/v1/masterdata/{entity}": {"get", "post"},
    "/api/v1/masterdata/{entity}/delete": {"post"},
    "/api/v1/channel-databases/{database_id}/activation-code": {"post"},
    "/api/v1/device/activate": {"post"},
    "/api/v1/device/config": {"get"},
    "/api/v1/device/packages": {"get"},
    "/api/v1/device/packages/{session_id}/content": {"get"},
    "/api/v1/device/packages/{session_id}/status": {"post"},
    "/api/v1/device/status": {"post"},
    "/api/v1/device/transactions": {"post"},
    "/api/v1/device/statements": {"post"},
    "/api/v1/statements": {"get"},
    "/api/v1/transactions/review": {"post"},
    "/api/v1/anomalies/review": {"post"},
    "/api/v1/transactions": {"get"},
    "/api/v1/transactions/{pos_transaction_id}": {"get"},
    "/api/v1/transactions/{pos_transaction_id}/review": {"post"},
    "/api/v1/anomalies": {"get"},
    "/api/v1/anomalies/{anomaly_id}/review": {"post"},
    "/api/v1/registers/bulk": {"post"},
    "/api/v1/stores/bulk": {"post"},
    "/api/v1/registers/export.csv": {"get"},
    "/api/v1/stores/export.csv": {"get"},
    "/api/v1/registers/import.csv": {"post"},
    "/api/v1/stores/import.csv": {"post"},
    "/api/v1/operations/{operation_id}": {"get"},
    "/api/v1/scheduler-jobs": {"get", "post"},
    "/api/v1/scheduler-jobs/{job_number}": {"get", "patch"},
    "/api/v1/scheduler-parameters": {"get", "put", "patch"},
    "/api/v1/webhooks": {"get", "post"},
    "/api/v1/webhooks/{webhook_id}": {"get", "patch", "delete"},
    "/api/v1/webhooks/{webhook_id}/deliveries": {"get"},
    "/api/v1/notifications": {"get"},
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# A heartbeat only records what the device says; nothing in it can clash with saved data.
NEVER_CONFLICTS = {
    f"{DEVICE_PREFIX}status",
    # A review only adds to the history; the same verdict twice is two reviews.
    "/api/v1/transactions/{pos_transaction_id}/review",
    "/api/v1/anomalies/{anomaly_id}/review",
    "/api/v1/transactions/review",
    "/api/v1/anomalies/review",
}


@pytest.fixture
def spec(client):
    """The served OpenAPI document."""
    response = client.get(f"{API_PREFIX}/openapi.json")
    assert response.status_code == 200
    return response.json


def operations(spec):
    """(path, method, operation) for every operation of the document."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def error_schema(spec, response: dict) -> str:
    """The schema reference of a documented response, following a response reference."""
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]["$ref"]


def test_document_lists_every_endpoint_and_method(spec):
    assert spec["openapi"] == "3.0.3"
    documented = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in spec["paths"].items()
    }
    assert documented == ENDPOINTS


def test_every_api_route_of_the_app_is_documented(app, spec):
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIX) and not rule.rule.endswith("openapi.json")
    }
    assert routes == set(spec["paths"])


def test_every_operation_documents_auth_errors_in_the_error_shape(spec):
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        # Device tokens carry no role: the device API refuses with 401, never 403.
        for status in ("401",) if path.startswith(DEVICE_PREFIX) else ("401", "403"):
            assert status in responses, f"{method} {path} lacks {status}"
            assert error_schema(spec, responses[status]) == "#/components/schemas/Error"


def test_item_and_write_operations_document_their_errors(spec):
    for path, method, operation in operations(spec):
        responses = set(operation["responses"])
        if "{" in path:
            assert "404" in responses, f"{method} {path} lacks 404"
        if method in {"post", "patch"}:
            assert {"400", "422"} <= responses, f"{method} {path} lacks 400/422"
        if method in {"post", "delete"}:
            if path in NEVER_CONFLICTS:
                continue
            assert "409" in responses, f"{method} {path} lacks 409"


def test_error_schema_is_the_one_error_shape(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["properties"]["error"]["$ref"] == "#/components/schemas/ErrorDetail"
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message", "fields"}


def test_routes_answer_exactly_the_methods_the_document_lists(app, spec):
    documented = {
        (path, method.upper())
        for path, method, _ in operations(spec)
        if not path.startswith(DEVICE_PREFIX)
    }
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIX) and not rule.rule.startswith(DEVICE_PREFIX)
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if not rule.rule.endswith("openapi.json")
    }
    assert served == documented


def test_bodies_are_required_where_the_document_says_so(spec):
    optional = {
        (path, method)
        for path, method, operation in operations(spec)
        if "requestBody" in operation and not operation["requestBody"].get("required")
    }
    # An empty run request is "Run now": incremental, every target. The actions on one session,
    # run or database take nothing but their URL.
    assert optional == {
        ("/api/v1/distribution-schedules/{code}/runs", "post"),
        ("/api/v1/channel-databases/{database_id}/activation-code", "post"),
        ("/api/v1/channel-databases/{database_id}/cancel-sessions", "post"),
        ("/api/v1/channel-databases/{database_id}/full-sync", "post"),
        ("/api/v1/runs/{run_id}/cancel", "post"),
        ("/api/v1/runs/{run_id}/retry", "post"),
        ("/api/v1/download-sessions/{session_id}/cancel", "post"),
        ("/api/v1/download-sessions/{session_id}/retry", "post"),
    }


# One settings object each, not a collection.
SINGLETONS = {"/api/v1/scheduler-parameters"}


def test_list_operations_return_pages_and_take_list_arguments(spec):
    for path, method, operation in operations(spec):
        if method != "get" or "{" in path or path.startswith(DEVICE_PREFIX) or path in SINGLETONS:
            continue
        if path.endswith(".csv"):
            # A whole-table CSV download, not a page of a list.
            assert "text/csv" in operation["responses"]["200"]["content"], path
            continue
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert page.endswith("Page"), path
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert {"q", "limit", "cursor"} <= names, path


def test_read_only_fields_are_marked(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Store"]["properties"]["channel_database"]["readOnly"]
    assert schemas["Store"]["properties"]["registers"]["readOnly"]
    register = schemas["Register"]["properties"]
    assert register["effective_offline_profile"]["readOnly"]
    assert register["offline_database"]["readOnly"]
    database = schemas["ChannelDatabase"]["properties"]
    writable = {name for name, field in database.items() if not field.get("readOnly")}
    assert writable == {"channel_data_group"}


def test_every_operation_names_the_token_it_takes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert {name: scheme["scheme"] for name, scheme in schemes.items()} == {
        "userToken": "bearer",
        "deviceToken": "bearer",
    }
    for path, method, operation in operations(spec):
        required = operation.get("security", spec["security"])
        if path == f"{DEVICE_PREFIX}activate":
            assert required == [], "activation takes a code, not a token"
        elif path.startswith(DEVICE_PREFIX):
            assert required == [{"deviceToken": []}], f"{method} {path}"
        else:
            assert required == [{"userToken": []}], f"{method} {path}"


def test_an_idempotency_key_of_spaces_only_is_documented_as_refused(spec):
    upload = spec["paths"][f"{DEVICE_PREFIX}transactions"]["post"]
    (key,) = [p["schema"] for p in upload["parameters"] if p["name"] == "Idempotency-Key"]

    assert key["minLength"] == 1 and re.search(key["pattern"], " ") is None
    assert re.search(key["pattern"], " batch-1 ")
