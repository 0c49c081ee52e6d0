"""Defences: CSRF on forms, tokens on the API, cookies, secrets, headers, sign-in limits."""

import json
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

import portal
from portal import create_app
from portal.audit.models import AuditEntry
from portal.auth import services as auth
from portal.auth.models import ApiToken, User
from portal.config import ConfigurationError
from portal.core.extensions import db
from portal.device_api import credentials
from tests.conftest import PASSWORD
from tests.core.routes import (
    DEVICE_ACTIVATION,
    is_api,
    is_device,
    make_objects,
    row_counts,
    url_for_rule,
    walk,
)
from tests.factories import RegisterFactory

CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# What the Content-Security-Policy blocks: inline scripts, style blocks and attributes, handlers.
# A JSON data block (type="application/json") is never run, so the CSP has nothing to block.
INLINE = re.compile(
    r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>|<style[\s>]|\sstyle\s*=|\son[a-z]+\s*=",
    re.I,
)


def second_app(app, database_uri, **config):
    """Another portal on the run's database, e.g. with CSRF protection on."""
    settings = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "WTF_CSRF_ENABLED": False,
        "PACKAGE_STORE": app.config["PACKAGE_STORE"],
    }
    return create_app({**settings, **config})


@pytest.fixture
def strict_app(app, database_uri):
    """The portal with CSRF protection on, as in production."""
    strict = second_app(app, database_uri, WTF_CSRF_ENABLED=True)
    yield strict
    with strict.app_context():
        db.engine.dispose()
    # Creating an app makes its Celery the default one; give it back to the shared app.
    app.extensions["celery"].set_default()


@contextmanager
def another_browser(app):
    """A client sharing nothing with `client`: its own app context, so no cached signed-in user."""
    with app.app_context():
        yield app.test_client()


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token a page's form carries."""
    return CSRF_TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in_with_csrf(client, email: str) -> None:
    """Sign in through the form, CSRF token included."""
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)}
    assert client.post("/login", data=data).status_code == 302


def test_every_form_post_without_csrf_token_is_refused(app, strict_app, make_user):
    email = make_user("admin")
    client = strict_app.test_client()
    sign_in_with_csrf(client, email)
    objects = make_objects(strict_app, email)
    before = row_counts(strict_app)
    posts = [(rule, method) for rule, method in walk(strict_app) if not is_api(rule)]
    posts = [(rule, method) for rule, method in posts if method != "GET"]
    assert {rule.endpoint for rule, _ in posts} >= {"auth.login", "auth.logout", "auth.user_new"}

    refused = {}
    for rule, method in posts:
        response = client.open(url_for_rule(rule, objects), method=method, data={"name": "x"})
        refused[rule.endpoint] = (response.status_code, "CSRF" in response.get_data(as_text=True))

    assert {endpoint: answer for endpoint, answer in refused.items() if answer != (400, True)} == {}
    assert row_counts(strict_app) == before
    assert client.get("/").status_code == 200  # not even the sign-out went through


def test_a_form_with_its_csrf_token_goes_through(app, strict_app, make_user):
    email = make_user("hq")
    client = strict_app.test_client()
    sign_in_with_csrf(client, email)

    without = client.post("/tokens/new", data={"name": "no token"})
    token = csrf_token(client, "/tokens/new")
    with_token = client.post("/tokens/new", data={"name": "with token", "csrf_token": token})

    assert without.status_code == 400
    assert with_token.status_code == 200
    with app.app_context():
        names = db.session.scalars(sa.select(ApiToken.name)).all()
    assert names == ["with token"]


def test_api_needs_a_bearer_token_and_no_csrf_token(app, strict_app, make_user, token_for):
    client = strict_app.test_client()
    headers = token_for("admin")
    objects = make_objects(strict_app, make_user("hq"))
    writes = [(rule, method) for rule, method in walk(strict_app) if is_api(rule)]
    writes = [(rule, method) for rule, method in writes if method != "GET"]
    assert writes, "the API has no write endpoint to try"

    for rule, method in writes:
        url = url_for_rule(rule, objects)
        anonymous = client.open(url, method=method, json={})
        signed = client.open(url, method=method, json={}, headers=headers)
        if is_device(rule):
            # Only a device token opens these; activation takes none, so {} lacks its fields.
            expected = 422 if rule.endpoint == DEVICE_ACTIVATION else 401
            assert anonymous.status_code == signed.status_code == expected, url
        else:
            assert anonymous.status_code == 401, url
            assert signed.status_code not in (400, 401, 403), (url, signed.json)
        assert "CSRF" not in signed.get_data(as_text=True)


def test_a_device_token_opens_no_admin_api_endpoint(app, strict_app, make_user):
    client = strict_app.test_client()
    objects = make_objects(strict_app, make_user("hq"))
    with strict_app.app_context():
        database = RegisterFactory(support_offline=True).offline_database
        _, code = credentials.issue_activation_code(database)
        _, secret, _ = credentials.activate(database.id, code)
        db.session.commit()
    device = {"Authorization": f"Bearer {secret}"}
    before = row_counts(strict_app)
    routes = [(r, m) for r, m in walk(strict_app) if is_api(r) and not is_device(r)]
    assert routes, "the API has no admin endpoint to try"

    for rule, method in routes:
        if rule.endpoint == "api-docs.openapi_json":
            continue  # the public OpenAPI document
        url = url_for_rule(rule, objects)
        response = client.open(url, method=method, json={}, headers=device)
        assert response.status_code == 401, (method, url, response.status_code)

    assert row_counts(strict_app) == before


def test_session_cookies_are_httponly_and_secure_in_production(
    app, database_uri, make_user, monkeypatch
):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-production-secret-of-enough-length")
    production = second_app(app, database_uri)
    email = make_user("hq")

    response = production.test_client().post(
        "/login", data={"email": email, "password": PASSWORD, "remember": "y"}
    )

    assert production.config["SECRET_KEY"] == "a-production-secret-of-enough-length"
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in ("session", "remember_token"):
        flags = {part.strip().lower() for part in cookies[name].split(";")}
        assert {"secure", "httponly"} <= flags, cookies[name]
    with production.app_context():
        db.engine.dispose()
    app.extensions["celery"].set_default()


def test_development_cookies_work_over_plain_http(client, make_user):
    # The contrast to production: without Secure a local browser on http keeps the session.
    response = client.post("/login", data={"email": make_user("hq"), "password": PASSWORD})
    session = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "httponly" in session.lower()
    assert "secure" not in session.lower()


def test_production_refuses_to_start_without_secret_key(app, database_uri, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        second_app(app, database_uri)


def test_a_nul_character_in_a_form_is_refused_on_a_page(client, make_user):
    response = client.post("/login", data={"email": make_user("hq") + "\x00", "password": "x"})

    assert response.status_code == 422
    assert "NUL character" in response.text
    assert "session=" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_security_headers_on_every_kind_of_response(client, login):
    responses = {
        "sign-in page": client.get("/login"),
        "redirect to sign in": client.get("/"),
        "API refusal": client.get("/api/v1/stores"),
        "static file": client.get("/static/css/portal.css"),
    }
    login("hq")
    responses["signed-in page"] = client.get("/")
    responses["not found"] = client.get("/no-such-page")
    responses["forbidden"] = client.get("/users/")

    for what, response in responses.items():
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", what
        assert headers["X-Frame-Options"] == "DENY", what
        assert headers["Referrer-Policy"] == "same-origin", what
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in headers["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'", what
        assert policy["style-src"] == "'self'", what
        assert policy["frame-ancestors"] == "'none'", what
        assert "unsafe" not in headers["Content-Security-Policy"], what
        response.close()
    assert responses["forbidden"].status_code == 403


def test_templates_carry_no_inline_script_or_style():
    root = Path(portal.__file__).parent / "templates"
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if INLINE.search(line)
    ]
    assert not found, (
        "The Content-Security-Policy blocks these; use a class from static/css/portal.css or "
        "Bootstrap instead:\n" + "\n".join(found)
    )


def test_failed_sign_ins_are_limited_per_email_and_address(app, client, make_user):
    email, other = make_user("hq"), make_user("hq")
    wrong = {"email": email, "password": "not the password"}

    failures = [client.post("/login", data=wrong).status_code for _ in range(10)]
    refused = client.post("/login", data={"email": email, "password": PASSWORD})

    assert failures == [200] * 10
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    with app.app_context():
        assert auth.get_user(email).last_login_at is None
    assert client.get("/login").status_code == 200
    with another_browser(app) as browser:
        elsewhere = browser.post(
            "/login",
            data={"email": email, "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "192.0.2.7"},
        )
    with another_browser(app) as browser:
        other_user = browser.post("/login", data={"email": other, "password": PASSWORD})
    assert elsewhere.status_code == 302
    assert other_user.status_code == 302
    with app.app_context():
        assert auth.get_user(email).last_login_at is not None


def test_successful_sign_ins_are_not_counted(app, make_user):
    email = make_user("hq")
    answers = []
    for _ in range(12):
        with another_browser(app) as browser:
            response = browser.post("/login", data={"email": email, "password": PASSWORD})
            answers.append(response.status_code)
    with another_browser(app) as browser:
        wrong = browser.post("/login", data={"email": email, "password": "not the password"})
    assert answers == [302] * 12
    assert wrong.status_code == 200


def test_password_hash_never_reaches_the_audit_trail(app, client, login, make_user):
    login("admin")
    new_password, changed_password = "first-password-1", "second-password-2"
    client.post(
        "/users/new",
        data={
            "email": "new@example.com",
            "role": "hq",
            "password": new_password,
            "confirm": new_password,
        },
    )
    with app.app_context():
        user_id = auth.get_user("new@example.com").id
    client.post(
        f"/users/{user_id}/",
        data={
            "name": "Renamed",
            "role": "hq",
            "active": "y",
            "password": changed_password,
            "confirm": changed_password,
        },
    )
    app.test_cli_runner().invoke(
        args=["portal", "create-user", "cli@example.com", "--role", "hq", "--password-stdin"],
        input=PASSWORD + "\n",
    )

    with app.app_context():
        hashes = db.session.scalars(sa.select(User.password_hash)).all()
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.entity_type == "user")
        ).all()
    trail = json.dumps([[entry.before, entry.after] for entry in entries])
    assert len(entries) >= 4
    assert {"new@example.com", "cli@example.com"} <= {entry.entity_key for entry in entries}
    assert '"password": "changed"' in trail
    for secret in ("password_hash", "scrypt:", new_password, changed_password, PASSWORD, *hashes):
        assert secret not in trail


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "/\t/evil.example/",
        "http:/evil.example/",
        "javascript:alert(1)",
    ],
)
def test_sign_in_never_redirects_to_another_site(client, make_user, target):
    response = client.post(
        "/login?" + urlencode({"next": target}),
        data={"email": make_user("hq"), "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.location == "/"


def test_sign_in_returns_to_the_page_that_asked_for_it(client, make_user):
    asked = client.get("/stores/?q=houston")
    assert asked.location.startswith("/login?next=")

    response = client.post(asked.location, data={"email": make_user("hq"), "password": PASSWORD})

    assert response.location == "/stores/?q=houston"


def test_no_secret_reaches_the_logs_even_with_sql_logging_on(app, client, make_user, caplog):
    # Debug logging everywhere, SQL statements with their parameters included, as an operator
    # chasing a fault would switch on: only hashes of the secrets may show.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    email = make_user("admin")
    with app.app_context():
        database = RegisterFactory(support_offline=True).offline_database
        _, api_secret = auth.create_token(auth.get_user(email), "logs")
        db.session.commit()
        database_id, name = database.id, database.name
    api = {"Authorization": f"Bearer {api_secret}"}

    wrong = client.post("/login", data={"email": email, "password": "a-wrong-password-77"})
    signed_in = client.post("/login", data={"email": email, "password": PASSWORD})
    issued = client.post(f"/api/v1/channel-databases/{database_id}/activation-code", headers=api)
    code = issued.json["activation_code"]
    activated = client.post(
        "/api/v1/device/activate", json={"database": name, "activation_code": code}
    )
    device_secret = activated.json["device_token"]
    config = client.get(
        "/api/v1/device/config", headers={"Authorization": f"Bearer {device_secret}"}
    )

    assert (wrong.status_code, signed_in.status_code) == (200, 302)
    assert (issued.status_code, activated.status_code, config.status_code) == (201, 201, 200)
    logged = caplog.text
    assert "INSERT INTO device_token" in logged and "activation_code" in logged
    for secret in (PASSWORD, "a-wrong-password-77", api_secret, code, device_secret):
        assert secret not in logged
