"""The offline profiles API, with its nested offline scopes."""

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.masterdata.jobs import STANDARD_JOBS
from portal.setup.models import OfflineProfile
from tests.factories import ProfileFactory, RegisterFactory

pytestmark = pytest.mark.usefixtures("app_ctx")

TAX_SCOPE = {"name": "Tax", "direction": "download", "tables": ["tax_code", "tax_rate"]}


@pytest.fixture
def hq(token_for):
    """Bearer headers of an HQ user, who may change the setup."""
    return token_for("hq")


def stored(name: str) -> OfflineProfile | None:
    """The offline profile with this name, read from the database."""
    return db.session.scalar(sa.select(OfflineProfile).filter_by(name=name))


def scopes_of(name: str) -> list[tuple[str, str, list[str]]]:
    """A profile's scopes as (name, direction, tables), in order."""
    return [(s.name, s.direction, list(s.tables)) for s in stored(name).scopes]


def test_list_pages_through_profiles_by_name_and_searches(client, hq):
    for name in ("Standard", "Fast", "Slow lane"):
        ProfileFactory(name=name)

    first = client.get("/api/v1/offline-profiles?limit=2", headers=hq)
    assert first.status_code == 200
    second = client.get(
        f"/api/v1/offline-profiles?limit=2&cursor={first.json['next']}", headers=hq
    ).json
    searched = client.get("/api/v1/offline-profiles?q=sl", headers=hq).json

    assert [p["name"] for p in first.json["items"]] == ["Fast", "Slow lane"]
    assert [p["name"] for p in second["items"]] == ["Standard"]
    assert second["next"] is None
    assert [p["name"] for p in searched["items"]] == ["Slow lane"]


def test_get_shows_settings_and_scopes(client, hq):
    ProfileFactory(name="Standard", offline_timeout_s=20, scopes=[TAX_SCOPE])

    response = client.get("/api/v1/offline-profiles/Standard", headers=hq)

    assert response.status_code == 200
    assert response.json == {
        "name": "Standard",
        "offline_timeout_s": 20,
        "reconnect_interval_min": 5,
        "pause_sync": False,
        "allow_manual_switch_before_sign_in": False,
        "advanced_offline_switching": False,
        "health_check_interval_min": 5,
        "max_offline_minutes": None,
        "max_offline_total": None,
        "scopes": [TAX_SCOPE],
    }


def test_get_unknown_profile_is_404(client, hq):
    response = client.get("/api/v1/offline-profiles/Nope", headers=hq)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_create_without_scopes_gets_the_default_scopes(client, hq):
    response = client.post(
        "/api/v1/offline-profiles",
        json={"name": "Standard", "offline_timeout_s": 15, "pause_sync": True},
        headers=hq,
    )

    assert response.status_code == 201, response.json
    profile = stored("Standard")
    assert profile.offline_timeout_s == 15
    assert profile.pause_sync
    assert [s.name for s in profile.scopes] == [job.name for job in STANDARD_JOBS]
    assert len(response.json["scopes"]) == len(STANDARD_JOBS)


def test_create_with_scopes_keeps_them_in_order(client, hq):
    upload = {"name": "Sales", "direction": "upload", "tables": ["sales_transaction"]}

    response = client.post(
        "/api/v1/offline-profiles",
        json={"name": "Minimal", "scopes": [upload, TAX_SCOPE]},
        headers=hq,
    )

    assert response.status_code == 201
    assert scopes_of("Minimal") == [
        ("Sales", "upload", ["sales_transaction"]),
        ("Tax", "download", ["tax_code", "tax_rate"]),
    ]


def test_create_reports_out_of_range_settings_and_bad_scopes(client, hq):
    response = client.post(
        "/api/v1/offline-profiles",
        json={
            "name": "Broken",
            "offline_timeout_s": 0,
            "scopes": [{"name": "X", "tables": ["no_such_table"]}],
        },
        headers=hq,
    )

    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"offline_timeout_s", "scopes.0.tables"}
    assert stored("Broken") is None


def test_create_reports_unknown_fields_inside_a_scope(client, hq):
    response = client.post(
        "/api/v1/offline-profiles",
        json={"name": "Broken", "scopes": [{**TAX_SCOPE, "priority": 1}]},
        headers=hq,
    )

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"scopes.0.priority": "Unknown field."}
    assert stored("Broken") is None


def test_create_duplicate_is_409(client, hq):
    ProfileFactory(name="Standard", offline_timeout_s=20)

    response = client.post(
        "/api/v1/offline-profiles", json={"name": "Standard", "offline_timeout_s": 30}, headers=hq
    )

    assert response.status_code == 409
    assert response.json["error"]["fields"] == {"name": "Already taken."}
    assert stored("Standard").offline_timeout_s == 20


def test_update_with_scopes_replaces_them(client, hq):
    ProfileFactory(name="Standard")

    response = client.patch(
        "/api/v1/offline-profiles/Standard",
        json={"reconnect_interval_min": 10, "scopes": [TAX_SCOPE]},
        headers=hq,
    )

    assert response.status_code == 200, response.json
    assert response.json["scopes"] == [TAX_SCOPE]
    assert stored("Standard").reconnect_interval_min == 10
    assert scopes_of("Standard") == [("Tax", "download", ["tax_code", "tax_rate"])]


def test_auditors_thresholds_are_set_and_cleared(client, hq):
    ProfileFactory(name="Standard")
    url = "/api/v1/offline-profiles/Standard"

    set_ = client.patch(
        url, json={"max_offline_minutes": 240, "max_offline_total": "500.00"}, headers=hq
    )
    cleared = client.patch(url, json={"max_offline_total": None}, headers=hq)

    assert set_.status_code == 200, set_.json
    assert (set_.json["max_offline_minutes"], set_.json["max_offline_total"]) == (240, "500.00")
    assert cleared.status_code == 200
    assert cleared.json["max_offline_total"] is None
    assert (stored("Standard").max_offline_minutes, stored("Standard").max_offline_total) == (
        240,
        None,
    )


@pytest.mark.parametrize(
    ("send", "field"),
    [
        ({"max_offline_minutes": 0}, "max_offline_minutes"),
        ({"max_offline_minutes": 10**7}, "max_offline_minutes"),
        ({"max_offline_total": "-1"}, "max_offline_total"),
        ({"max_offline_total": "0.001"}, "max_offline_total"),
        ({"max_offline_total": "1e20"}, "max_offline_total"),
        ({"max_offline_total": "lots"}, "max_offline_total"),
    ],
)
def test_bad_thresholds_are_refused_naming_the_field(client, hq, send, field):
    ProfileFactory(name="Standard")

    response = client.patch("/api/v1/offline-profiles/Standard", json=send, headers=hq)

    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert stored("Standard").max_offline_minutes is None
    assert stored("Standard").max_offline_total is None


def test_update_without_scopes_keeps_them(client, hq):
    ProfileFactory(name="Standard", scopes=[TAX_SCOPE])

    response = client.patch(
        "/api/v1/offline-profiles/Standard", json={"advanced_offline_switching": True}, headers=hq
    )

    assert response.status_code == 200
    assert stored("Standard").advanced_offline_switching
    assert scopes_of("Standard") == [("Tax", "download", ["tax_code", "tax_rate"])]


def test_delete_unused_profile(client, hq):
    ProfileFactory(name="Standard")

    response = client.delete("/api/v1/offline-profiles/Standard", headers=hq)

    assert response.status_code == 204
    assert stored("Standard") is None


def test_delete_profile_in_use_is_refused(client, hq):
    profile = ProfileFactory(name="Standard")
    RegisterFactory(offline_profile=profile.name)

    response = client.delete("/api/v1/offline-profiles/Standard", headers=hq)

    assert response.status_code == 409
    assert "used by 1 register(s)" in response.json["error"]["message"]
    assert stored("Standard") is not None
