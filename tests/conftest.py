"""Test fixtures: a fresh database per run (SQLite, or PostgreSQL when DATABASE_URL says so)."""

import os
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from portal import config, create_app
from portal.auth import services as auth
from portal.config import database_url
from portal.core.extensions import db, limiter
from portal.masterdata.prices import Currency, PriceGroup
from portal.masterdata.tax import SalesTaxGroup
from tests.factories import ensure_master_data
from tests.mail_server import smtp_server  # noqa: F401  (a fixture for every test)
from tests.s3_server import s3  # noqa: F401  (a fixture for every test)

PASSWORD = "correct-horse-battery"
ROLES = ("admin", "hq", "scheduler", "auditor")


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory):
    """A new, empty database for this test run; dropped at the end on PostgreSQL."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite'}"
        return
    server = urlsplit(os.environ["DATABASE_URL"])
    name = f"hqportal_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = urlunsplit(server._replace(scheme="postgresql"))
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlunsplit(server._replace(path=f"/{name}"))
    try:
        yield database_url("")
    finally:
        os.environ["DATABASE_URL"] = urlunsplit(server)
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app(database_uri, tmp_path_factory):
    """The portal on the run's database, its schema built by the real migrations."""
    instance = tmp_path_factory.mktemp("instance")
    # Tasks the tests queue go to a broker file of the run (or a queue of the run on Redis),
    # never where a developer's own worker would pick them up.
    celery = config.load(str(instance))["CELERY"] | {
        "broker_url": os.environ.get("REDIS_URL") or f"sqla+sqlite:///{instance / 'broker.sqlite'}",
        "task_default_queue": f"test-{uuid.uuid4().hex[:10]}",
    }
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "WTF_CSRF_ENABLED": False,
            "PACKAGE_STORE": str(instance / "packages"),
            "CELERY": celery,
        }
    )
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_url(app, database_uri):
    """The portal served on a free local port, with CSRF protection on as in production.

    A second app on the run's database, served from a thread: a forked server process (as
    pytest-flask's `live_server` makes) would share the parent's open database connections.
    It shares the run's package store and task queue with `app`, so packages the tests build
    can be downloaded from it and the tasks it queues never reach a developer's worker.
    """
    live_app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "WTF_CSRF_ENABLED": True,
            "PACKAGE_STORE": app.config["PACKAGE_STORE"],
            "CELERY": app.config["CELERY"],
        }
    )
    # Creating an app makes its Celery the default one; give it back to the shared app.
    app.extensions["celery"].set_default()
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    with live_app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Empty every table and forget the rate limits' counts after each test that used the app.

    So tests never see each other.
    """
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        limiter.reset()
        db.session.remove()
        # The change counter is seeded by the migrations and only ever grows.
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name != "change_counter"]
        # DELETE in reverse dependency order: on PostgreSQL it is far quicker than TRUNCATE for
        # the handful of rows a test leaves.
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def app_ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def make_user(app):
    """Create a user of a role (committed); returns its email."""

    def make(role: str, email: str | None = None) -> str:
        email = email or f"{role}-{uuid.uuid4().hex[:6]}@example.com"
        with app.app_context():
            auth.create_user(email, role, PASSWORD)
            db.session.commit()
        return email

    return make


@pytest.fixture
def login(client, make_user):
    """Sign in through the real sign-in form as a new user of the given role."""

    def sign_in(role: str) -> str:
        email = make_user(role)
        response = client.post("/login", data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, response.text
        return email

    return sign_in


@pytest.fixture
def token_for(app, make_user):
    """Authorization headers carrying a fresh API token of a user with the given role."""

    def issue(role: str) -> dict[str, str]:
        email = make_user(role)
        with app.app_context():
            _, secret = auth.create_token(auth.get_user(email), "test")
            db.session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return issue


@pytest.fixture(autouse=True)
def _push_request_context():
    """Replace pytest-flask's fixture of this name, which pushes one request context per test.

    With it, every request a test makes shares the test's `g` and database session, so a
    request could see the signed-in user or uncommitted rows of an earlier one and pass for
    the wrong reason. Tests that call services directly use `app_ctx`.
    """
    yield


@pytest.fixture
def store_master_data(app_ctx):
    """USD and CAD, sales tax groups TX and WA, price group RETAIL, committed."""
    for model, code in (
        (Currency, "USD"),
        (Currency, "CAD"),
        (SalesTaxGroup, "TX"),
        (SalesTaxGroup, "WA"),
        (PriceGroup, "RETAIL"),
    ):
        ensure_master_data(model, code)
    db.session.commit()
