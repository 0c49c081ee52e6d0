"""`flask portal ...`: users, tokens and demo data from the shell, recorded as the "cli" actor."""

import pytest
import sqlalchemy as sa

from portal import demo
from portal.audit.models import AuditEntry
from portal.auth import services as auth
from portal.auth.models import ApiToken, User
from portal.core.extensions import db
from tests.conftest import PASSWORD
from tests.core.routes import row_counts


def portal(app, *args: str, input: str | None = None):
    """Run `flask portal <args>` and return click's result."""
    return app.test_cli_runner().invoke(args=["portal", *args], input=input)


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(User))


def audit_entry(app, entity_type: str, entity_key: str) -> AuditEntry:
    with app.app_context():
        entry = db.session.scalar(
            sa.select(AuditEntry).filter_by(entity_type=entity_type, entity_key=entity_key)
        )
        db.session.expunge_all()
    assert entry is not None, f"no audit entry for {entity_type} {entity_key}"
    return entry


def test_create_user_reads_the_password_from_stdin(app):
    result = portal(
        app,
        "create-user",
        "Sam@Example.com",
        "--role",
        "scheduler",
        "--name",
        "Sam Scheduler",
        "--password-stdin",
        input=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert "Created scheduler user sam@example.com." in result.output
    with app.app_context():
        user = auth.get_user("sam@example.com")
        assert (user.role, user.name, user.active) == ("scheduler", "Sam Scheduler", True)
        assert auth.authenticate("sam@example.com", PASSWORD) is user
    entry = audit_entry(app, "user", "sam@example.com")
    assert (entry.action, entry.actor, entry.source) == ("create", "cli", "cli")


def test_create_user_prompts_twice_for_the_password(app):
    result = portal(app, "create-user", "hq@example.com", "--role", "hq", input=f"{PASSWORD}\n" * 2)

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert auth.authenticate("hq@example.com", PASSWORD) is not None


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("new@example.com", "owner", PASSWORD, "Unknown role 'owner'"),
        ("new@example.com", "hq", "short", "The password is too short"),
        ("not an email", "hq", PASSWORD, "Invalid email address"),
        ("taken@example.com", "hq", PASSWORD, "already exists"),
    ],
    ids=["bad-role", "short-password", "bad-email", "duplicate"],
)
def test_create_user_refusals_exit_non_zero_and_store_nothing(
    app, make_user, email, role, password, message
):
    make_user("auditor", "taken@example.com")
    before = user_count(app)

    result = portal(
        app, "create-user", email, "--role", role, "--password-stdin", input=password + "\n"
    )

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert user_count(app) == before
    with app.app_context():
        assert auth.get_user("taken@example.com").role == "auditor"


def test_create_token_prints_a_token_that_opens_the_api(app, client, make_user):
    email = make_user("auditor")

    result = portal(app, "create-token", email, "--name", "Nightly export")

    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    assert secret.startswith(auth.TOKEN_PREFIX)
    with app.app_context():
        assert auth.user_for_token(secret).email == email
        token = db.session.scalar(sa.select(ApiToken))
        assert token.name == "Nightly export"
        assert secret not in (token.token_hash, token.prefix)
        key = f"{email}/{token.prefix}"
    response = client.get("/api/v1/stores", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    entry = audit_entry(app, "api_token", key)
    assert (entry.action, entry.actor, entry.source) == ("create", "cli", "cli")


def test_create_token_for_unknown_user_fails(app):
    result = portal(app, "create-token", "nobody@example.com")

    assert result.exit_code == 1
    assert "does not exist" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_seed_demo_creates_users_per_role_and_is_idempotent(app):
    first = portal(app, "seed-demo")
    counts = row_counts(app)
    second = portal(app, "seed-demo")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert row_counts(app) == counts
    assert all(line.startswith("0 ") for line in second.output.splitlines()), second.output
    with app.app_context():
        roles = dict(db.session.execute(sa.select(User.email, User.role)).all())
        for email, role, _ in demo.DEMO_USERS:
            assert roles[email] == role
            assert auth.authenticate(email, demo.DEMO_PASSWORD) is not None
        assert {role for _, role, _ in demo.DEMO_USERS} == {"admin", "hq", "scheduler", "auditor"}
        sources = set(db.session.execute(sa.select(AuditEntry.actor, AuditEntry.source)).all())
    assert counts["store"] == len(demo.DEMO_STORES)
    assert sources == {("cli", "cli")}
