"""Health checks: the process answers; readiness names what is not ready; the favicon is served."""

import socket

import pytest

from portal import create_app
from portal.core.extensions import db


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ok_when_database_broker_and_schema_are(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "migrations": "ok"},
    }


@pytest.fixture
def unready_client(app, tmp_path):
    """A portal on a database never migrated and a broker nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    unready = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite'}",
            "CELERY": app.config["CELERY"] | {"broker_url": f"redis://127.0.0.1:{closed_port}/0"},
        }
    )
    app.extensions["celery"].set_default()
    yield unready.test_client()
    with unready.app_context():
        db.engine.dispose()


def test_readyz_answers_503_naming_what_failed(unready_client):
    response = unready_client.get("/readyz")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert response.json["status"] == "failed"
    assert checks["database"] == "ok"
    assert "schema at nothing" in checks["migrations"]
    assert checks["broker"] != "ok" and "Error" in checks["broker"]
    # The process itself is fine: a liveness probe must not restart it for that.
    assert unready_client.get("/healthz").status_code == 200


def test_favicon_is_served_and_linked(client, login):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/vnd.microsoft.icon"
        assert response.data[:4] == b"\x00\x00\x01\x00"
    login("hq")
    assert 'rel="icon" href="/static/favicon.ico"' in client.get("/").text
