"""Reviewing many at once through the API: by ids or a filter, each its own history and audit."""

import pytest
import sqlalchemy as sa

from portal.audit.models import AuditEntry
from portal.auditor.models import Anomaly, Review
from portal.core.extensions import db
from portal.transactions.models import PosTransaction
from tests.transactions.conftest import made, send

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture
def sales(client, store_device):
    """HOUSTON-1 sequences 1, 3 (a gap before 3) and a void; HOUSTON-2 one sale."""
    send(client, store_device, made("HOUSTON-1", 1), made("HOUSTON-1", 3))
    send(client, store_device, made("HOUSTON-1", 4, kind="void"), made("HOUSTON-2", 1))


def ids_of(register: str) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(PosTransaction.id)
            .where(PosTransaction.register.has(register_number=register))
            .order_by(PosTransaction.id)
        )
    )


def reviews_of(subject: str) -> list[tuple[int, str, str]]:
    db.session.expire_all()
    return [
        (r.subject_id, r.status, r.comment)
        for r in db.session.scalars(
            sa.select(Review).where(Review.subject == subject).order_by(Review.subject_id)
        )
    ]


def test_transactions_by_ids_each_get_a_review_and_an_audit_line(client, token_for, sales):
    chosen = ids_of("HOUSTON-1")[:2]
    response = client.post(
        "/api/v1/transactions/review",
        json={"ids": chosen, "status": "flagged", "comment": "Count the drawer"},
        headers=token_for("auditor"),
    )
    assert response.status_code == 200, response.text
    assert response.json == {"reviewed": 2, "ids": chosen, "anomalies_resolved": 0}
    assert reviews_of("transaction") == [(n, "flagged", "Count the drawer") for n in chosen]
    audited = db.session.scalars(
        sa.select(AuditEntry.entity_key).where(AuditEntry.action == "review")
    ).all()
    assert sorted(audited) == sorted(str(n) for n in chosen)


def test_transactions_by_filter_resolving_their_anomalies(client, token_for, sales):
    response = client.post(
        "/api/v1/transactions/review",
        json={
            "filter": {"register": "HOUSTON-1"},
            "status": "reviewed",
            "comment": "Checked with the store",
            "resolve_anomalies": True,
        },
        headers=token_for("auditor"),
    )
    assert response.status_code == 200, response.text
    assert response.json["reviewed"] == 3
    # The gap before 3 and the offline void.
    assert response.json["anomalies_resolved"] == 2
    statuses = db.session.scalars(
        sa.select(Anomaly.review_status).where(Anomaly.register.has(register_number="HOUSTON-1"))
    ).all()
    assert statuses == ["resolved", "resolved"]
    untouched = ids_of("HOUSTON-2")[0]
    assert db.session.get(PosTransaction, untouched).review_status == "open"


def test_anomalies_by_filter_and_by_ids(client, token_for, sales):
    headers = token_for("auditor")
    response = client.post(
        "/api/v1/anomalies/review",
        json={"filter": {"kind": "offline_void"}, "status": "resolved", "comment": "Manager ok"},
        headers=headers,
    )
    assert response.json["reviewed"] == 1
    gap = db.session.scalar(sa.select(Anomaly.id).filter_by(kind="sequence_gap"))
    response = client.post(
        "/api/v1/anomalies/review", json={"ids": [gap], "status": "reviewed"}, headers=headers
    )
    assert response.status_code == 200 and response.json["ids"] == [gap]
    assert {status for _, status, _ in reviews_of("anomaly")} == {"reviewed", "resolved"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"status": "flagged", "comment": "x"}, 422, "ids"),
        ({"ids": [1], "filter": {}, "status": "flagged", "comment": "x"}, 422, "ids"),
        ({"ids": [1, 2], "status": "flagged"}, 422, "comment"),
        ({"ids": [], "status": "reviewed"}, 422, "ids"),
        ({"filter": {"kind": "nonsense"}, "status": "reviewed"}, 422, "filter"),
    ],
)
def test_bad_bulk_reviews_change_nothing(client, token_for, sales, body, status, field):
    response = client.post("/api/v1/anomalies/review", json=body, headers=token_for("auditor"))
    assert response.status_code == status, response.text
    assert field in str(response.json["error"]["fields"])
    assert reviews_of("anomaly") == []


def test_an_unknown_id_refuses_all_and_other_roles_are_forbidden(client, token_for, sales):
    chosen = ids_of("HOUSTON-1")[:1] + [999999]
    response = client.post(
        "/api/v1/transactions/review",
        json={"ids": chosen, "status": "reviewed"},
        headers=token_for("auditor"),
    )
    assert response.status_code == 404 and "999999" in response.json["error"]["message"]
    assert reviews_of("transaction") == []
    response = client.post(
        "/api/v1/transactions/review",
        json={"ids": chosen[:1], "status": "reviewed"},
        headers=token_for("hq"),
    )
    assert response.status_code == 403


def test_pages_review_ticked_rows_or_all_matching(client, login, sales):
    login("auditor")
    page = client.get("/transactions/?register=HOUSTON-1").get_data(as_text=True)
    assert 'data-match-count="3"' in page and 'name="ids"' in page
    first, second, _ = ids_of("HOUSTON-1")
    response = client.post(
        "/transactions/review?register=HOUSTON-1",
        data={"ids": [first, second], "status": "reviewed", "comment": ""},
    )
    assert response.status_code == 303
    assert "register=HOUSTON-1" in response.headers["Location"]
    assert [n for n, _, _ in reviews_of("transaction")] == [first, second]
    response = client.post(
        "/anomalies/review?register=HOUSTON-1",
        data={"all_matching": "y", "status": "flagged", "comment": "Ask the store"},
    )
    assert response.status_code == 303
    assert len(reviews_of("anomaly")) == 2


def test_a_page_refusal_is_422_and_reviews_nothing(client, login, sales):
    login("auditor")
    response = client.post("/anomalies/review", data={"status": "flagged", "comment": "Why"})
    assert response.status_code == 422
    assert "Choose at least one to review" in response.get_data(as_text=True)
    response = client.post(
        "/transactions/review", data={"ids": ids_of("HOUSTON-2"), "status": "flagged"}
    )
    assert response.status_code == 422 and "Say why it is flagged" in response.get_data(
        as_text=True
    )
    assert reviews_of("transaction") == [] and reviews_of("anomaly") == []
    assert client.get("/transactions/").status_code == 200
