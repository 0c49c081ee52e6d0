"""Schema-driven fuzzing of the JSON API from its own OpenAPI document.

Every operation gets generated valid and invalid requests, in schemathesis' examples, coverage
and fuzzing phases, and every check schemathesis has runs on each answer: none may be a 500,
every answer must match what the document promises (status, headers, content type, body), a
request the schema forbids must be refused, one it allows must be accepted, a method the
document does not list must answer 405, and a request without credentials 401.
"""

import pytest
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, settings

from portal import create_app, demo
from portal.core.extensions import db, limiter
from portal.device_api import credentials

schemathesis.checks.load_all_checks()
CURSOR = "a cursor is the `next` of a page the server gave; other text is refused"
# A CSV import's errors are named by line: the document cannot say what a CSV row holds.
CSV_LINES = {f"line {n}": "a header of the export's columns, then valid rows" for n in range(200)}
# Schema-valid requests that a rule the schema cannot state refuses with 422, per operation:
# the top-level field refused, and why. Any other refusal of valid data fails the test.
RULES = {
    "GET /api/v1/stores": {"cursor": CURSOR},
    "POST /api/v1/stores": {
        "store_number": "blank is missing; letters, digits, '-', '_', '.'; not taken",
        "name": "blank is missing",
        "currency": "a currency of the master data",
        "tax_group": "a sales tax group of the master data",
        "time_zone": "an IANA time zone",
        "channel_data_group": "an existing channel data group",
        "offline_profile": "an existing offline profile",
        "price_group": "a price group of the master data",
        "assortment": "an assortment of the master data",
    },
    "GET /api/v1/registers": {"cursor": CURSOR},
    "POST /api/v1/registers": {
        "register_number": "blank is missing; letters, digits, '-', '_', '.'; not taken",
        "store": "an existing store",
        "offline_profile": "an existing offline profile",
    },
    "GET /api/v1/channel-databases": {"cursor": CURSOR},
    "PATCH /api/v1/channel-databases/{database_id}": {
        "channel_data_group": "an existing channel data group"
    },
    "GET /api/v1/channel-data-groups": {"cursor": CURSOR},
    "POST /api/v1/channel-data-groups": {"name": "blank is missing"},
    "PATCH /api/v1/channel-data-groups/{name}": {"name": "blank is missing"},
    "GET /api/v1/offline-profiles": {"cursor": CURSOR},
    "POST /api/v1/offline-profiles": {
        "name": "blank is missing",
        "max_offline_total": "a number of minutes, sent as text",
        "scopes": "scope names unique and not blank, tables of the job catalogue",
    },
    "PATCH /api/v1/offline-profiles/{name}": {
        "name": "blank is missing",
        "max_offline_total": "a number of minutes, sent as text",
        "scopes": "scope names unique and not blank, tables of the job catalogue",
    },
    "GET /api/v1/distribution-schedules": {"cursor": CURSOR},
    "POST /api/v1/distribution-schedules": {
        "code": "blank is missing; letters, digits, '-', '_', '.'; not taken",
        "name": "blank is missing",
        "jobs": "numbers of the job catalogue",
        "groups": "existing channel data groups",
        "cron": "a 5-field cron expression",
        "time_zone": "an IANA time zone",
        "interval_minutes": "one recurrence: not beside `cron`",
    },
    "PATCH /api/v1/distribution-schedules/{code}": {
        "name": "blank is missing",
        "jobs": "numbers of the job catalogue",
        "groups": "existing channel data groups",
        "cron": "a 5-field cron expression",
        "time_zone": "an IANA time zone",
        "interval_minutes": "one recurrence: not beside `cron`",
    },
    "POST /api/v1/distribution-schedules/{code}/runs": {
        "channel_database": "a channel database the schedule reaches"
    },
    "GET /api/v1/runs": {"cursor": CURSOR},
    "GET /api/v1/masterdata/{entity}": {"cursor": CURSOR},
    "POST /api/v1/masterdata/{entity}": {"rows": "each row holds the fields of its table"},
    # A key is an object of the key fields or a bare value, which the document leaves open;
    # null is neither.
    "POST /api/v1/masterdata/{entity}/delete": {"keys": "a key object or value, never null"},
    "POST /api/v1/device/activate": {"database": "an id, name, register or store number"},
    "GET /api/v1/device/packages": {"cursor": CURSOR},
    "POST /api/v1/device/status": {
        "last_applied_package": "a package of this device's database",
        "offline_since": "only while offline",
    },
    "POST /api/v1/device/statements": {
        "closed_at": "not before opened_at, within 7 days",
        "last_sequence": "not below first_sequence",
        "counts": "adding up to the sequences from first to last",
        "totals": "decimal numbers, sent as text",
        "payments": "decimal numbers adding up to the totals; methods of 1 to 30 characters",
    },
    "GET /api/v1/statements": {"cursor": CURSOR},
    "GET /api/v1/transactions": {
        "cursor": CURSOR,
        "date_from": "a date, or a date and time with its UTC offset",
        "date_to": "a date, or a date and time with its UTC offset",
        "min_total": "a decimal number, sent as text",
        "max_total": "a decimal number, sent as text",
    },
    "POST /api/v1/transactions/{pos_transaction_id}/review": {
        "comment": "flagged and resolved need one"
    },
    "GET /api/v1/anomalies": {"cursor": CURSOR},
    "POST /api/v1/anomalies/{anomaly_id}/review": {"comment": "flagged and resolved need one"},
    "POST /api/v1/registers/bulk": {
        "filter": "a filter or register_numbers, one of the two",
        "set": "at least one field; an existing offline profile",
    },
    "POST /api/v1/stores/bulk": {
        "filter": "a filter or store_numbers, one of the two",
        "set": "at least one field, each as a store takes it (master data, groups, profiles)",
    },
    "POST /api/v1/registers/import.csv": CSV_LINES,
    "POST /api/v1/stores/import.csv": CSV_LINES,
    "POST /api/v1/transactions/review": {
        "ids": "either ids or a filter, naming existing transactions",
        "filter": "either ids or a filter, matching at most 5000",
        "comment": "flagged and resolved need one",
    },
    "POST /api/v1/anomalies/review": {
        "ids": "either ids or a filter, naming existing anomalies",
        "filter": "either ids or a filter, matching at most 5000",
        "comment": "flagged and resolved need one",
    },
    "GET /api/v1/scheduler-jobs": {"cursor": CURSOR},
    "POST /api/v1/scheduler-jobs": {
        "job_number": "blank is missing; letters, digits, '-', '_', '.'; not taken",
        "name": "blank is missing",
        "tables": "distributable tables, at least one, each once",
    },
    "PATCH /api/v1/scheduler-jobs/{job_number}": {
        "name": "blank is missing",
        "tables": "distributable tables, at least one, each once; an upload job keeps its own",
        "exclude_from_offline": "an upload job keeps its own",
    },
    "GET /api/v1/webhooks": {"cursor": CURSOR},
    "POST /api/v1/webhooks": {
        "url": "an http or https address",
        "secret": "16 to 200 characters",
        "events": "at least one",
    },
    "PATCH /api/v1/webhooks/{webhook_id}": {
        "url": "an http or https address",
        "secret": "16 to 200 characters",
        "events": "at least one",
    },
    "GET /api/v1/webhooks/{webhook_id}/deliveries": {"cursor": CURSOR},
    "GET /api/v1/notifications": {"cursor": CURSOR},
}


def body(response) -> dict:
    """The answer's JSON object, or {} for any other body (the other checks judge it)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def valid_data_accepted(ctx, response, case):
    """positive_data_acceptance, but for a 422 naming only fields RULES lists for the operation."""
    if response.status_code == 422:
        refused = {name.split(".")[0] for name in body(response).get("error", {}).get("fields", {})}
        if refused and refused <= set(RULES.get(case.operation.label, {})):
            return None
    return schemathesis.checks.positive_data_acceptance(ctx, response, case)


def invalid_data_refused(ctx, response, case):
    """negative_data_rejection, where a sale refused inside an upload counts as refused.

    An upload answers 200 with one result per sale, so a sale the schema forbids is `rejected`
    in its result while the other sales of the batch are kept.
    """
    if (
        case.operation.label == "POST /api/v1/device/transactions"
        and response.status_code == 200
        and body(response).get("counts", {}).get("rejected")
    ):
        return None
    return schemathesis.checks.negative_data_rejection(ctx, response, case)


REPLACED = {
    "positive_data_acceptance": valid_data_accepted,
    "negative_data_rejection": invalid_data_refused,
}
# Every check, the two above with the refusals explained; not the response time, which would
# make the result depend on the machine.
CHECKS = [
    REPLACED.get(name, check)
    for name, check in zip(
        schemathesis.checks.CHECKS.get_all_names(),
        schemathesis.checks.CHECKS.get_all(),
        strict=True,
    )
    if name != "max_response_time"
]

# The document alone, from a throwaway app, so each operation is a test of its own in the report;
# the requests go to the run's app, over demo data.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
)
# No column stores a NUL character; every API refuses text holding one (README, JSON API).
schema.config.generation.update(allow_x00=False)


@pytest.fixture
def demo_data(app):
    """The demo data, for the generated requests to meet real stores, registers and schedules."""
    with app.app_context():
        demo.seed(products=50)
        db.session.commit()


@pytest.fixture
def device_headers(app, demo_data) -> dict[str, str]:
    """The Bearer header of the demo register HOUSTON-1's activated device."""
    with app.app_context():
        database = credentials.find_database("HOUSTON-1")
        _, code = credentials.issue_activation_code(database)
        _, secret, _ = credentials.activate(database.id, code)
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin_headers(token_for) -> dict[str, str]:
    """The Bearer header of an admin's API token."""
    return token_for("admin")


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, app, admin_headers, device_headers):
    # The device endpoints take a device's token, the others a user's; with the wrong kind
    # every request would stop at 401 and the fuzzing would never reach the handlers.
    headers = device_headers if case.path.startswith("/api/v1/device/") else admin_headers
    # Activation's rate limit would otherwise answer most of the examples with 429.
    limiter.reset()
    case.call_and_validate(headers=headers, checks=CHECKS, app=app)
