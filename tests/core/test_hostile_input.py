"""No request content can produce a 5xx, and a refused request stores nothing.

Hostile values (any Unicode, lone surrogates and NUL included; times that leave the calendar in
UTC; huge, non-finite and out-of-range numbers; odd nesting) go to every operation of the
OpenAPI document and to the pages' query strings. A sale that cannot be read is rejected on its
own, field by field, and its neighbours still go in.
"""

import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from portal import create_app, demo
from portal.auditor.models import Anomaly
from portal.core.extensions import db, limiter
from portal.core.storable import NUL_MESSAGE, SURROGATE_MESSAGE, TIME_MESSAGE
from portal.device_api import credentials
from portal.distribution.models import DistributionRun, DownloadSession
from portal.transactions.models import PosTransaction, UploadSession
from tests.factories import RegisterFactory, StoreFactory
from tests.transactions.conftest import UPLOAD, made

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Shrinking a failure replays hundreds of requests; the failing example is reported as found.
NO_SHRINKING = [Phase.explicit, Phase.reuse, Phase.generate]
NOT_A_CURSOR = "Not a cursor this list gave."
# In the text of a JSON body, these stand for number literals json.dumps cannot write.
RAW_NUMBERS = {
    "1e999999": "1e999999",
    "-1e999999": "-1e999999",
    "1e9999999999999999999999": "1e9999999999999999999999",
    "digits": "9" * 5000,
    "deep": "[" * 5000 + "]" * 5000,
}
EXTREME_TIMES = [
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31",
    "0001-01-01",
    "2026-11-20T14:03:11+01:00",
]
ODD_TEXT = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "1e999999",
    "-1e999999",
    "NaN",
    "Infinity",
    "-0",
    str(2**64),
    "99999999999999999999",
    "W251bGxd",
    "",
    " ",
    "HOUSTON",
    "true",
]


def cursor_of(value: Any) -> str:
    """A cursor as the lists write one, around any value."""
    return base64.urlsafe_b64encode(json.dumps([value]).encode()).decode().rstrip("=")


def body_bytes(value: Any) -> bytes:
    """JSON text of `value` with surrogates escaped, NaN written, and raw number stand-ins."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    for name, literal in RAW_NUMBERS.items():
        text = text.replace(json.dumps(f"raw:{name}"), literal)
    return text.encode()


def counts() -> dict[str, int]:
    """Rows per table, in one query."""
    tables = db.metadata.sorted_tables
    row = db.session.execute(
        sa.select(
            *(
                sa.select(sa.func.count()).select_from(t).scalar_subquery().label(t.name)
                for t in tables
            )
        )
    ).one()
    db.session.rollback()
    return dict(row._mapping)


# --- Strategies -------------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=12)
hostile_text = st.one_of(any_text, st.sampled_from(ODD_TEXT + EXTREME_TIMES))
hostile_number = st.one_of(
    st.sampled_from(
        [2**64, -(2**63) - 1, 2**31, 10**30, -1, 0, float("nan"), float("inf"), -float("inf")]
    ),
    st.sampled_from([f"raw:{name}" for name in RAW_NUMBERS]),
    st.floats(),
)
hostile_scalar = st.one_of(hostile_text, hostile_number, st.booleans(), st.none())
hostile_value = st.recursive(
    hostile_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=6,
)


def _schema_keys(document: dict, schema: dict | None) -> list[str]:
    """The property names of a (possibly referenced) object schema."""
    while schema and "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return sorted((schema or {}).get("properties", {}))


def _body_strategy(document: dict, path: str, operation: dict):
    if path.endswith("/device/transactions"):
        return _batches()
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return st.none()
    keys = _schema_keys(document, content.get("schema"))
    shaped = st.fixed_dictionaries({}, optional={key: hostile_value for key in keys})
    return st.one_of(shaped, hostile_value)


def _sale_with(field: str, value: Any, on_line: bool) -> dict:
    sale = made("HOUSTON-1", sequence=1 + uuid.uuid4().int % 10**9)
    (sale["lines"][0] if on_line else sale)[field] = value
    return sale


def _batches():
    """A good sale beside sales with one field (of the sale or of its line) made hostile."""
    sale_fields = sorted(made("HOUSTON-1"))
    line_fields = sorted(made("HOUSTON-1")["lines"][0])
    poisoned = st.one_of(
        st.builds(_sale_with, st.sampled_from(sale_fields), hostile_value, st.just(False)),
        st.builds(_sale_with, st.sampled_from(line_fields), hostile_value, st.just(True)),
        st.builds(_sale_with, hostile_text, hostile_value, st.just(False)),
    )
    transactions = st.lists(poisoned, min_size=1, max_size=3).map(lambda sales: [made(), *sales])
    return st.one_of(
        st.fixed_dictionaries({"transactions": transactions}),
        st.fixed_dictionaries({"transactions": hostile_value}),
        hostile_value,
    )


def _query_strategy(operation: dict):
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    cursors = st.builds(cursor_of, hostile_value)
    values = {
        name: st.one_of(hostile_text, cursors) if name in ("cursor", "before") else hostile_text
        for name in names
    }
    return st.fixed_dictionaries({}, optional=values)


def _query_string(args: dict[str, str]) -> str:
    # A surrogate cannot be UTF-8 encoded: sent as its bytes, which the server reads as U+FFFD.
    return "&".join(
        f"{quote(k, errors='surrogatepass')}={quote(v, errors='surrogatepass')}"
        for k, v in args.items()
    )


def _operations() -> list[tuple[str, str, dict, dict]]:
    document = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).test_client()
    spec = document.get("/api/v1/openapi.json").get_json()
    return [
        (path, method, operation, spec)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


# --- Fixtures ---------------------------------------------------------------------------------


def _ready(client, token_for) -> dict:
    """An admin's and HOUSTON-1's device headers, one uploaded sale, and ids of real rows."""
    database = credentials.find_database("HOUSTON-1")
    _, code = credentials.issue_activation_code(database)
    _, secret, _ = credentials.activate(database.id, code)
    db.session.commit()
    device = {"Authorization": f"Bearer {secret}"}
    answer = client.post(UPLOAD, json={"transactions": [made()]}, headers=device)
    assert answer.status_code == 200, answer.text
    ids = {
        "database_id": database.id,
        "pos_transaction_id": db.session.scalar(sa.select(sa.func.max(PosTransaction.id))),
        "anomaly_id": db.session.scalar(sa.select(sa.func.max(Anomaly.id))) or 1,
        "run_id": db.session.scalar(sa.select(sa.func.max(DistributionRun.id))) or 1,
        "session_id": db.session.scalar(sa.select(sa.func.max(DownloadSession.id))) or 1,
    }
    db.session.rollback()
    return {"admin": token_for("admin"), "device": device, "ids": ids}


@pytest.fixture
def portal(app_ctx, client, token_for):
    """Store HOUSTON with the offline register HOUSTON-1, its device, and an admin."""
    StoreFactory(store_number="HOUSTON")
    RegisterFactory(register_number="HOUSTON-1", store="HOUSTON", support_offline=True)
    db.session.commit()
    return _ready(client, token_for)


@pytest.fixture
def demo_portal(app_ctx, client, token_for):
    """The demo data, HOUSTON-1's device and an admin: every operation has rows to reach."""
    demo.seed(products=20)
    db.session.commit()
    return _ready(client, token_for)


GOOD_PATH_VALUES = {
    "store_number": ["HOUSTON"],
    "register_number": ["HOUSTON-1"],
    "name": ["Stores", "Standard offline"],
    "code": ["1080", "1040"],
    "entity": ["product", "currency", "price_group"],
}


def _path_strategy(path: str, method: str, ids: dict[str, int]):
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    values = {}
    for name in names:
        good = GOOD_PATH_VALUES.get(name) or [str(ids.get(name, 1))]
        # A destructive call on a real row would empty the data the other examples need.
        values[name] = hostile_text if method == "delete" else st.sampled_from(good) | hostile_text
    return st.fixed_dictionaries(values)


def _url(path: str, params: dict[str, str], query: dict[str, str]) -> str:
    for name, value in params.items():
        path = path.replace(f"{{{name}}}", quote(value, safe="", errors="surrogatepass") or "x")
    return f"{path}?{_query_string(query)}" if query else path


# --- The property -----------------------------------------------------------------------------


def _answers_without_5xx(client, operation: tuple, headers: dict, ids: dict):
    """A property of one operation: no hostile request answers 5xx or stores when refused."""
    path, method, spec, document = operation

    @given(
        params=_path_strategy(path, method, ids),
        query=_query_strategy(spec),
        body=_body_strategy(document, path, spec),
    )
    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=NO_SHRINKING,
    )
    def answers(params, query, body):
        limiter.reset()  # activation's rate limit would answer most examples with 429
        before = counts()
        # The app runs with TESTING: an error a 500 would hide is raised here instead.
        response = client.open(
            _url(path, params, query),
            method=method.upper(),
            data=None if body is None else body_bytes(body),
            headers=headers | {"Content-Type": "application/json"},
        )
        assert response.status_code < 500, (params, query, body)
        if 400 <= response.status_code < 500:
            assert counts() == before, response.text

    return answers


def test_no_hostile_request_to_any_operation_answers_5xx_or_stores_when_refused(
    client, demo_portal
):
    failures = []
    for operation in _operations():
        path, method = operation[:2]
        device = path.startswith("/api/v1/device/")
        headers = demo_portal["device"] if device else demo_portal["admin"]
        try:
            _answers_without_5xx(client, operation, headers, demo_portal["ids"])()
        except Exception as error:  # every operation is tried; all failures are reported
            db.session.rollback()
            failures.append(f"{method.upper()} {path}: {error!r}"[:2000])
    assert not failures, "\n".join(failures)


def _pages() -> list[str]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and not rule.arguments
        and not rule.rule.startswith(("/api/", "/static/"))
        and rule.rule not in ("/logout", "/login")
    )


@pytest.mark.parametrize("path", _pages())
def test_no_hostile_query_string_on_a_page_answers_5xx(client, login, portal, path):
    login("admin")
    names = [
        "q",
        "page",
        "date_from",
        "date_to",
        "min_total",
        "max_total",
        "cursor",
        "before",
        "database",
        "run",
        "store",
        "window",
    ]

    @given(query=st.fixed_dictionaries({}, optional={name: hostile_text for name in names}))
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    def answers_without_5xx(query):
        # Closed: a file's body (the favicon) holds the file open until then.
        with client.get(f"{path}?{_query_string(query)}") as response:
            assert response.status_code < 500, (path, query)

    answers_without_5xx()


# Each page with a form, and where it posts when that is another URL.
FORMS = [
    "/stores/new",
    "/stores/HOUSTON/edit",
    "/registers/new",
    "/registers/HOUSTON-1/edit",
    "/channel-data-groups/new",
    "/channel-data-groups/Stores/edit",
    "/offline-profiles/new",
    "/offline-profiles/Standard%20offline/edit",
    "/distribution/schedules/new",
    "/distribution/schedules/1080/edit",
    "/masterdata/product/new",
    "/masterdata/currency/new",
    "/transactions/{pos_transaction_id} -> /transactions/{pos_transaction_id}/review",
    "/users/new",
    "/tokens/new",
]
# A form cannot carry a lone surrogate (its bytes are read as U+FFFD); a NUL it can.
form_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),
    st.sampled_from([t for t in ODD_TEXT + EXTREME_TIMES if t.isascii() or t.isprintable()]),
)


def _form_answers(client, url: str, names: list[str]):
    """A property of one form: no hostile post answers 5xx or stores when refused."""

    @given(data=st.fixed_dictionaries({}, optional={name: form_text for name in names}))
    @settings(
        max_examples=5,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=NO_SHRINKING,
    )
    def answers(data):
        before = counts()
        response = client.post(url, data=data)
        assert response.status_code < 500, data
        if 400 <= response.status_code < 500:
            assert counts() == before, data

    return answers


def test_no_hostile_form_on_a_page_answers_5xx_or_stores_when_refused(client, login, demo_portal):
    login("admin")
    failures = []
    for form in FORMS:
        shown, _, url = form.format(**demo_portal["ids"]).partition(" -> ")
        url = url or shown
        page = client.get(shown)
        assert page.status_code == 200, shown
        names = sorted(set(re.findall(r'name="([^"]+)"', page.text)) - {"csrf_token"})

        try:
            _form_answers(client, url, names)()
        except Exception as error:  # every form is tried; all failures are reported
            db.session.rollback()
            failures.append(f"{form}: {error!r}"[:2000])
    assert not failures, "\n".join(failures)


# --- The examples of the report, each by name --------------------------------------------------


def _upload(client, device, *sales, raw: dict[str, str] | None = None):
    body = body_bytes({"transactions": list(sales)})
    for stand_in, literal in (raw or {}).items():
        body = body.replace(json.dumps(stand_in).encode(), literal.encode())
    return client.post(UPLOAD, data=body, headers=device | {"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("poison", "field"),
    [
        ({"created_at": "9999-12-31T23:59:59-23:59"}, "created_at"),
        ({"created_at": "0001-01-01T00:00:00+14:00"}, "created_at"),
        ({"offline_since": "0001-01-01T00:00:00+14:00"}, "offline_since"),
        ({"staff": "\ud800"}, "staff"),
        ({"receipt_number": "R\udfff"}, "receipt_number"),
        ({"register": "\ud800"}, "register"),
        ({"\ud800": 1}, "\\ud800"),
        ({"transaction_id": "\ud800"}, "transaction_id"),
        ({"total": "raw:1e9999999999999999999999"}, "total"),
        ({"sequence": "raw:digits"}, "sequence"),
    ],
    ids=lambda value: json.dumps(value)[:40],
)
def test_a_sale_that_cannot_be_read_is_rejected_and_its_good_neighbour_goes_in(
    client, portal, poison, field
):
    good = made(sequence=7)
    bad = made(sequence=8) | poison

    response = _upload(client, portal["device"], good, bad, raw=RAW_NUMBERS)

    assert response.status_code == 200, response.text
    first, second = response.json["results"]
    assert first == {"transaction_id": good["transaction_id"], "status": "accepted", "errors": {}}
    assert second["status"] == "rejected"
    assert field in second["errors"], second
    assert db.session.scalar(
        sa.select(PosTransaction.id).filter_by(transaction_id=good["transaction_id"])
    )
    session = db.session.get(UploadSession, response.json["upload_session"])
    assert session.response == response.json


def test_a_lone_surrogate_in_a_line_is_rejected_naming_the_line_field(client, portal):
    bad = made(sequence=9)
    bad["lines"][0]["product"] = "P-\ud800"

    result = _upload(client, portal["device"], made(sequence=10), bad).json["results"]

    assert [r["status"] for r in result] == ["accepted", "rejected"]
    assert result[1]["errors"] == {"lines[0].product": SURROGATE_MESSAGE}


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("post", "/api/v1/stores", {"store_number": "X1", "name": "\ud800"}, "name"),
        ("post", "/api/v1/channel-data-groups", {"name": "G", "description": "\ud800"}, None),
        (
            "post",
            "/api/v1/masterdata/product",
            {"rows": [{"product_number": "P-\ud800", "name": "x"}]},
            "rows.0.product_number",
        ),
        (
            "post",
            "/api/v1/transactions/{pos_transaction_id}/review",
            {"status": "flagged", "comment": "\ud800"},
            "comment",
        ),
        ("post", "/api/v1/stores", {"store_number": "X1", "\udc00": 1}, "\\udc00"),
        ("post", "/api/v1/stores", {"store_number": "X1", "name": "a\x00"}, "name"),
    ],
    ids=["store", "group", "masterdata", "review", "key", "nul"],
)
def test_text_no_column_can_store_is_422_naming_the_field(client, portal, method, url, body, field):
    before = counts()

    response = client.open(
        url.format(**portal["ids"]),
        method=method.upper(),
        data=body_bytes(body),
        headers=portal["admin"] | {"Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    fields = response.json["error"]["fields"]
    expected = NUL_MESSAGE if "\\u0000" in json.dumps(body) else SURROGATE_MESSAGE
    assert fields == {field or "description": expected}
    assert counts() == before


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/device/activate", {"database": "HOUSTON-1", "activation_code": "\ud800"}, None),
        (
            "/api/v1/device/status",
            {"mode": "online", "pending_uploads": 0, "app_version": "\ud800"},
            "app_version",
        ),
        (
            "/api/v1/device/status",
            {"mode": "offline", "pending_uploads": 0, "offline_since": "0001-01-01T00:00:00+14:00"},
            "offline_since",
        ),
        (
            "/api/v1/device/status",
            {"mode": "offline", "pending_uploads": 0, "offline_since": "9999-12-31T23:59:59-23:59"},
            "offline_since",
        ),
    ],
    ids=["activate", "heartbeat-text", "heartbeat-early", "heartbeat-late"],
)
def test_the_device_api_refuses_what_it_cannot_store_naming_the_field(
    client, portal, url, body, field
):
    before = counts()

    response = client.post(
        url, data=body_bytes(body), headers=portal["device"] | {"Content-Type": "application/json"}
    )

    assert response.status_code == 422, response.text
    fields = response.json["error"]["fields"]
    assert set(fields) == {field or "activation_code"}
    assert counts() == before


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("date_from=0001-01-01T00:00:00%2B14:00", "date_from", TIME_MESSAGE),
        ("date_to=9999-12-31T23:59:59-23:59", "date_to", TIME_MESSAGE),
        ("date_to=9999-12-31", "date_to", TIME_MESSAGE),
        ("min_total=1e999999", "min_total", None),
        ("max_total=-1e999999", "max_total", None),
        ("min_total=NaN", "min_total", None),
        ("limit=99999999999999999999", "limit", None),
        (f"cursor={cursor_of([{'at': '0001-01-01T00:00:00+14:00'}, 1])}", "cursor", NOT_A_CURSOR),
        (f"cursor={cursor_of([{'at': '2026-01-01T00:00:00+00:00'}, 2**64])}", "cursor", None),
    ],
)
def test_bad_transaction_list_arguments_are_422(client, portal, query, field, message):
    response = client.get(f"/api/v1/transactions?{query}", headers=portal["admin"])

    assert response.status_code == 422, response.text
    assert response.json["error"]["code"] == "validation_failed"
    fields = response.json["error"]["fields"]
    assert set(fields) == {field}
    if message:
        assert fields[field] == message


@pytest.mark.parametrize(
    ("url", "cursor"),
    [
        ("/api/v1/runs", "W251bGxd"),
        ("/api/v1/runs", cursor_of(2**64)),
        ("/api/v1/runs", cursor_of("text")),
        ("/api/v1/runs", cursor_of([1, 2])),
        ("/api/v1/stores", cursor_of("\ud800")),
        ("/api/v1/stores", cursor_of({"a": 1})),
        ("/api/v1/stores", cursor_of(1.5)),
        ("/api/v1/masterdata/product", cursor_of(2**40)),
        ("/api/v1/anomalies", cursor_of([{"at": "9999-12-31T23:59:59-23:59"}, 1])),
        ("/api/v1/stores", "%F0%9F%98%80"),
    ],
)
def test_a_cursor_no_list_gave_is_422_on_the_cursor(client, portal, url, cursor):
    response = client.get(f"{url}?cursor={cursor}", headers=portal["admin"])

    assert response.status_code == 422, response.text
    assert response.json["error"]["fields"] == {"cursor": NOT_A_CURSOR}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"rows": [{"product_number": "P-9", "name": "x", "base_price": 1e999999}]}', None),
        ('{"rows": [{"product_number": "P-9", "name": "x", "base_price": NaN}]}', None),
        ('{"rows": [{"product_number": "P-9", "name": "x", "weird": 18446744073709551616}]}', None),
        ('{"rows": ' + "[" * 5000 + "]" * 5000 + "}", "json"),
    ],
    ids=["huge", "nan", "int-beyond-64-bits", "deep"],
)
def test_numbers_no_column_holds_and_deep_nesting_are_4xx(client, portal, body, field):
    before = counts()

    response = client.post(
        "/api/v1/masterdata/product",
        data=body,
        headers=portal["admin"] | {"Content-Type": "application/json"},
    )

    assert 400 <= response.status_code < 500, response.text
    assert counts() == before


@pytest.mark.parametrize(
    ("url", "shows"),
    [
        ("/auditor/stores?date_to=9999-12-31", TIME_MESSAGE),
        ("/auditor/stores?date_from=0001-01-01&date_to=2026-01-01", TIME_MESSAGE),
        ("/transactions/?min_total=1e999999", "A finite number below 10^14 in size."),
        ("/transactions/?max_total=NaN", "A finite number below 10^14 in size."),
        ("/transactions/?date_to=9999-12-31", TIME_MESSAGE),
        ("/anomalies/?page=99999999999999999999", None),
        ("/users/?page=99999999999999999999", None),
        ("/users/?page=-99999999999999999999", None),
        (f"/transactions/?cursor={cursor_of([{'at': '0001-01-01T00:00:00+14:00'}, 1])}", None),
        (f"/transactions/?before={cursor_of(None)}", None),
    ],
)
def test_pages_answer_hostile_query_strings_without_5xx(client, login, portal, url, shows):
    login("admin")

    response = client.get(url)

    assert response.status_code in (200, 422), response.status_code
    if shows:
        assert shows in response.text


def test_an_id_no_row_can_have_is_refused_on_the_sessions_page(client, login, portal):
    login("admin")

    response = client.get("/distribution/sessions/?database=99999999999999999999&run=1")

    assert response.status_code == 422
    assert "database" in response.text


def test_a_form_field_with_a_nul_is_refused_naming_it(client, login, portal):
    login("admin")

    response = client.post("/stores/new", data={"store_number": "X2", "name": "a\x00b"})

    assert response.status_code == 422
    assert "name: Must not contain the NUL character" in response.text


def test_an_upload_answered_400_keeps_no_session(client, portal):
    before = counts()

    response = client.post(
        UPLOAD,
        data=b'{"transactions": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        headers=portal["device"] | {"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert counts() == before


def test_times_a_day_inside_the_calendar_still_pass(client, portal):
    # The edges of the range: the day after year 1 begins and the day before year 9999 ends.
    for query in ("date_from=0001-01-02", "date_to=9999-12-30", "date_from=2026-11-20"):
        response = client.get(f"/api/v1/transactions?{query}", headers=portal["admin"])
        assert response.status_code == 200, (query, response.text)
    late = made(sequence=11, created_at="9999-12-30T12:00:00+01:00")
    result = _upload(client, portal["device"], late).json["results"][0]
    assert result["status"] == "accepted", result


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_a_nul_in_a_url_part_names_no_row_404(client, portal, method):
    before = counts()

    response = client.open(
        "/api/v1/registers/HOUSTON-1%00", method=method, json={}, headers=portal["admin"]
    )

    assert response.status_code == 404, response.text
    assert response.json["error"]["code"] == "not_found"
    assert counts() == before


def test_a_nul_in_a_page_url_part_is_404(client, login, portal):
    login("admin")

    assert client.get("/stores/HOUSTON%00").status_code == 404


@pytest.mark.parametrize(
    ("entity", "row"),
    [
        ("currency", {"code": "XTS", "name": "Test", "decimals": 2**40}),
        ("currency", {"code": "XTS", "name": "Test", "decimals": "9" * 5000}),
        ("screen_layout", {"code": "L1", "name": "Till", "layout": '{"a": "\\ud800"}'}),
        ("screen_layout", {"code": "L1", "name": "Till", "layout": '{"a": "\\u0000"}'}),
    ],
    ids=["int-beyond-32-bits", "digits", "surrogate-in-json-text", "nul-in-json-text"],
)
def test_master_data_refuses_values_its_columns_cannot_store(client, portal, entity, row):
    before = counts()

    response = client.post(
        f"/api/v1/masterdata/{entity}", json={"rows": [row]}, headers=portal["admin"]
    )

    assert response.status_code == 422, response.text
    assert counts() == before


def test_an_idempotency_key_no_column_can_store_is_422(client, portal):
    before = counts()

    response = client.post(
        UPLOAD,
        json={"transactions": [made(sequence=12)]},
        headers=portal["device"] | {"Idempotency-Key": "key\x00"},
    )

    assert response.status_code == 422, response.text
    assert set(response.json["error"]["fields"]) == {"Idempotency-Key"}
    assert counts() == before
