"""The auditors' JSON API of anomalies: filters, pages, reviews and who may do what."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.auditor.models import Anomaly, Review
from portal.core.extensions import db
from tests.transactions.conftest import device_headers, made, offline_database, send

pytestmark = pytest.mark.usefixtures("app_ctx")
LIST = "/api/v1/anomalies"


def anomaly_id(kind: str, register: str) -> int:
    return db.session.scalar(
        sa.select(Anomaly.id).where(
            Anomaly.kind == kind, Anomaly.register.has(register_number=register)
        )
    )


@pytest.fixture
def auditor(token_for):
    return token_for("auditor")


@pytest.fixture
def findings(client, store_device):
    """HOUSTON-1: a gap (later filled) and an offline void; HOUSTON-2: a gap; DALLAS-1: a return."""
    send(client, store_device, made("HOUSTON-1", 1), made("HOUSTON-1", 3))
    send(client, store_device, made("HOUSTON-1", 2), made("HOUSTON-1", 4, kind="void"))
    send(client, store_device, made("HOUSTON-2", 1), made("HOUSTON-2", 5))
    send(client, device_headers(offline_database("DALLAS-1")), made("DALLAS-1", 1, kind="return"))


def kinds(response) -> list[tuple[str, str]]:
    assert response.status_code == 200, response.text
    return [(item["kind"], item["register"]) for item in response.json["items"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {},
            [
                ("offline_return", "DALLAS-1"),
                ("sequence_gap", "HOUSTON-2"),
                ("offline_void", "HOUSTON-1"),
                ("sequence_gap", "HOUSTON-1"),
            ],
        ),
        ({"kind": "sequence_gap"}, [("sequence_gap", "HOUSTON-2"), ("sequence_gap", "HOUSTON-1")]),
        ({"store": "DALLAS"}, [("offline_return", "DALLAS-1")]),
        ({"register": "HOUSTON-1", "kind": "offline_void"}, [("offline_void", "HOUSTON-1")]),
        ({"cleared": "true"}, [("sequence_gap", "HOUSTON-1")]),
        ({"cleared": "false", "kind": "sequence_gap"}, [("sequence_gap", "HOUSTON-2")]),
        ({"review_status": "resolved"}, []),
        ({"q": "missing"}, [("sequence_gap", "HOUSTON-2"), ("sequence_gap", "HOUSTON-1")]),
    ],
)
def test_filters_newest_first(client, auditor, findings, query, expected):
    assert kinds(client.get(LIST, query_string=query, headers=auditor)) == expected


def test_an_anomaly_names_its_store_register_and_transaction(client, auditor, findings):
    (item,) = client.get(LIST, query_string={"store": "DALLAS"}, headers=auditor).json["items"]

    assert item["store"] == "DALLAS" and item["review_status"] == "open"
    assert item["message"] == "Returned offline." and item["cleared_at"] is None
    detail = client.get(f"/api/v1/transactions/{item['transaction']}", headers=auditor).json
    assert detail["register"] == "DALLAS-1"


def test_pages_of_one(client, auditor, findings):
    seen, cursor = [], None
    while True:
        query = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        response = client.get(LIST, query_string=query, headers=auditor)
        seen += kinds(response)
        cursor = response.json["next"]
        if cursor is None:
            break

    assert seen == kinds(client.get(LIST, headers=auditor))
    assert len(seen) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"kind": "strange"}, "kind"),
        ({"review_status": "done"}, "review_status"),
        ({"cleared": "perhaps"}, "cleared"),
        ({"limit": 500}, "limit"),
        ({"cursor": "!!"}, "cursor"),
    ],
)
def test_bad_filters_name_the_field(client, auditor, query, field):
    response = client.get(LIST, query_string=query, headers=auditor)

    assert response.status_code == 422, response.text
    assert field in response.json["error"]["fields"]


def test_an_auditor_resolves_an_anomaly_and_the_trail_keeps_it(client, auditor, findings):
    target = anomaly_id("sequence_gap", "HOUSTON-2")

    response = client.post(
        f"{LIST}/{target}/review",
        json={"status": "resolved", "comment": "Sales 2-4 were training mode."},
        headers=auditor,
    )

    assert response.status_code == 201, response.text
    assert response.json["subject"] == "anomaly" and response.json["subject_id"] == target
    db.session.expire_all()
    assert db.session.get(Anomaly, target).review_status == "resolved"
    (review,) = db.session.scalars(sa.select(Review))
    assert review.actor == response.json["actor"] and review.actor.startswith("auditor-")
    entry = db.session.scalar(sa.select(AuditEntry).filter_by(action="review"))
    assert (entry.actor, entry.entity_type, entry.entity_key) == (
        review.actor,
        "anomaly",
        str(target),
    )
    listed = client.get(LIST, query_string={"review_status": "resolved"}, headers=auditor)
    assert kinds(listed) == [("sequence_gap", "HOUSTON-2")]


def test_unknown_anomalies_are_404(client, auditor):
    for target in (1, 2**40):
        response = client.post(
            f"{LIST}/{target}/review", json={"status": "reviewed"}, headers=auditor
        )
        assert response.status_code == 404, response.text


def test_a_flag_needs_a_reason(client, auditor, findings):
    target = anomaly_id("offline_void", "HOUSTON-1")

    response = client.post(f"{LIST}/{target}/review", json={"status": "flagged"}, headers=auditor)

    assert response.status_code == 422
    assert "comment" in response.json["error"]["fields"]


def test_roles(client, token_for, findings):
    target = anomaly_id("offline_void", "HOUSTON-1")
    review = {"status": "reviewed"}

    assert client.get(LIST, headers=token_for("scheduler")).status_code == 403
    hq = token_for("hq")
    assert client.get(LIST, headers=hq).status_code == 200
    assert client.post(f"{LIST}/{target}/review", json=review, headers=hq).status_code == 403
    auditor = token_for("auditor")
    assert client.post(f"{LIST}/{target}/review", json=review, headers=auditor).status_code == 201
    assert client.get(LIST).status_code == 401


def test_nothing_edits_or_deletes_an_anomaly(client, token_for, findings):
    admin = token_for("admin")
    target = anomaly_id("offline_void", "HOUSTON-1")

    assert client.post(LIST, json={}, headers=admin).status_code == 405
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(f"{LIST}/{target}/review", json={}, headers=admin)
        assert response.status_code == 405, method
