"""The authorization matrix: every route of the URL map, for every role and for anonymous callers.

A route added without a guard fails here: anonymous callers must be sent to sign in (pages) or
refused with 401 (API), and a role without the permission that GUARDS names gets 403.
"""

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from portal.auth.roles import Permission, can, roles_table, with_roles_table
from tests.conftest import PASSWORD, ROLES
from tests.core.routes import DEVICE_ACTIVATION, is_api, make_objects, url_for_rule, walk
from tests.core.routes import WRITE_METHODS as WRITES

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed in"  # any role
DEVICE = "device token"  # a device of a channel database; no HQ user's token opens these

# Endpoint prefix -> (permission to read, permission to write); the longest prefix wins. An
# endpoint matching none is setup: every role reads it, only admin and HQ staff change it.
# Give a route other rights here, next to the guard that grants them.
GUARDS = {
    "static": (PUBLIC, PUBLIC),
    "api-docs.openapi_json": (PUBLIC, PUBLIC),
    # Load balancers probe these without credentials; they say nothing about the data.
    "health.": (PUBLIC, PUBLIC),
    # Prometheus has no user: its own token or address list guards it (tests/core/test_metrics.py).
    "ops.": (PUBLIC, PUBLIC),
    "auth.login": (PUBLIC, PUBLIC),
    "auth.logout": (PUBLIC, PUBLIC),
    # A forgotten password, and choosing one through a link: the link's token is the right.
    "auth.password_": (PUBLIC, PUBLIC),  # ends whatever session there is, and needs no rights
    "auth.account": (SIGNED_IN, SIGNED_IN),
    "auth.token": (SIGNED_IN, SIGNED_IN),
    "auth.user": (Permission.MANAGE_USERS, Permission.MANAGE_USERS),
    "audit.": (Permission.READ_AUDIT, Permission.READ_AUDIT),
    "masterdata.": (Permission.READ_SETUP, Permission.CHANGE_MASTERDATA),
    "masterdata_api.": (Permission.READ_SETUP, Permission.CHANGE_MASTERDATA),
    "distribution.": (Permission.READ_SETUP, Permission.CHANGE_SCHEDULES),
    # HQ staff run schedules; creating, changing and deleting them and retrying builds is the
    # schedulers'.
    "schedules.": (Permission.READ_SETUP, Permission.CHANGE_SCHEDULES),
    "schedules.run_now": (Permission.READ_SETUP, Permission.RUN_DISTRIBUTION),
    "schedules.full_package": (Permission.READ_SETUP, Permission.RUN_DISTRIBUTION),
    "schedules.retry": (Permission.READ_SETUP, Permission.RETRY_BUILDS),
    "distribution_schedules_api.": (Permission.READ_SETUP, Permission.CHANGE_SCHEDULES),
    "distribution_schedules_api.ScheduleRuns": (Permission.READ_SETUP, Permission.RUN_DISTRIBUTION),
    "runs_api.": (Permission.READ_SETUP, Permission.READ_SETUP),
    # Retrying and cancelling sessions is the schedulers'; a full data sync is a run.
    "runs_api.RunCancel": (Permission.READ_SETUP, Permission.RETRY_BUILDS),
    "runs_api.RunRetry": (Permission.READ_SETUP, Permission.RETRY_BUILDS),
    "download_sessions_api.": (Permission.READ_SETUP, Permission.RETRY_BUILDS),
    "channel_databases_api.DatabaseCancel": (Permission.READ_SETUP, Permission.RETRY_BUILDS),
    "channel_databases_api.DatabaseFullSync": (Permission.READ_SETUP, Permission.RUN_DISTRIBUTION),
    "channel_databases_api.SelectionFullSync": (
        Permission.READ_SETUP,
        Permission.RUN_DISTRIBUTION,
    ),
    "lifecycle.": (Permission.READ_SETUP, Permission.RETRY_BUILDS),
    "lifecycle.full_sync": (Permission.READ_SETUP, Permission.RUN_DISTRIBUTION),
    # Ticked sessions go on to the page of the action chosen, which checks its own right.
    "lifecycle.selection": (Permission.READ_SETUP, Permission.READ_SETUP),
    # The job catalogue and the parameters are read by all, changed by schedulers.
    "scheduler_jobs_api.": (Permission.READ_SETUP, Permission.CHANGE_SCHEDULES),
    "scheduler_parameters_api.": (Permission.READ_SETUP, Permission.CHANGE_SCHEDULES),
    # Webhooks hold addresses outside HQ: only those who change schedules see and change them.
    "alerts.": (Permission.CHANGE_SCHEDULES, Permission.CHANGE_SCHEDULES),
    "alerts.notifications": (Permission.READ_SETUP, Permission.READ_SETUP),
    "alerts.dismiss": (Permission.READ_SETUP, Permission.RETRY_BUILDS),
    "webhooks_api.": (Permission.CHANGE_SCHEDULES, Permission.CHANGE_SCHEDULES),
    "notifications_api.": (Permission.READ_SETUP, Permission.READ_SETUP),
    "device_api.": (DEVICE, DEVICE),
    "device_transactions_api.": (DEVICE, DEVICE),
    "device_statements_api.": (DEVICE, DEVICE),
    "statements_api.": (Permission.READ_TRANSACTIONS, Permission.READ_TRANSACTIONS),
    "reconciliation.": (Permission.READ_TRANSACTIONS, Permission.READ_TRANSACTIONS),
    "transactions.": (Permission.READ_TRANSACTIONS, Permission.REVIEW_TRANSACTIONS),
    "anomalies.": (Permission.READ_TRANSACTIONS, Permission.REVIEW_TRANSACTIONS),
    "transactions_auditor_api.": (Permission.READ_TRANSACTIONS, Permission.REVIEW_TRANSACTIONS),
    "anomalies_api.": (Permission.READ_TRANSACTIONS, Permission.REVIEW_TRANSACTIONS),
    DEVICE_ACTIVATION: (PUBLIC, PUBLIC),
}
SETUP = (Permission.READ_SETUP, Permission.CHANGE_SETUP)
# Routes that sign the walker out (the user they name is the walker): answering with the sign-in
# page is their job.
SIGN_OUTS = {"auth.account_sign_out_everywhere", "auth.user_sign_out_everywhere"}


def required(endpoint: str, method: str, form: bool = False):
    """What a request needs, from the longest GUARDS prefix of its endpoint.

    A page that accepts a POST is a form (or a confirmation): showing it needs the write right.
    """
    prefixes = [prefix for prefix in GUARDS if endpoint.startswith(prefix)]
    read, write = GUARDS[max(prefixes, key=len)] if prefixes else SETUP
    return write if form or method in WRITES else read


def check(
    response, role: str | None, needed, api: bool, method: str, signs_out: bool = False
) -> str | None:
    """What is wrong with the response, or None; `signs_out` if it may send to sign-in."""
    status = response.status_code
    if needed == DEVICE:
        return None if status == 401 else f"device endpoint answered {status}, not 401"
    to_login = status == 302 and urlsplit(response.location).path == "/login"
    if role is None:
        if api and status != 401:
            return f"anonymous API call answered {status}, not 401"
        if not api and not to_login:
            return f"anonymous page answered {status} {response.location or ''}, not sign-in"
        return None
    if needed != SIGNED_IN and not can(role, needed):
        return None if status == 403 else f"{role} lacks {needed} but got {status}, not 403"
    if status in (401, 403) or (to_login and not signs_out):
        return f"{role} may do this but got {status}"
    if method == "GET" and status >= 400:
        return f"{role} read answered {status}: are the URL parameters real objects?"
    return None


@pytest.mark.parametrize("role", [None, *ROLES], ids=["anonymous", *ROLES])
def test_every_route_answers_every_role_as_the_guard_table_says(
    app, client, login, make_user, token_for, role
):
    email = login(role) if role else make_user("hq")
    headers = token_for(role) if role else {}
    objects = make_objects(app, email)
    problems, walked = [], set()
    for rule, method in walk(app):
        api = is_api(rule)
        needed = required(rule.endpoint, method, form=not api and bool(rule.methods & WRITES))
        if needed == PUBLIC:
            continue
        url = url_for_rule(rule, objects)
        body = ({"json": {}} if api else {"data": {}}) if method in WRITES else {}
        response = client.open(url, method=method, headers=headers if api else {}, **body)
        signs_out = method == "POST" and rule.endpoint in SIGN_OUTS
        problem = check(response, role, needed, api, method, signs_out)
        # A streamed download keeps its request context until its body is closed.
        response.close()
        if signs_out and role and urlsplit(response.location or "").path == "/login":
            # The walker's sign-in ended, as asked: sign in again for the rest of the walk.
            client.post("/login", data={"email": email, "password": PASSWORD})
        if problem:
            problems.append(f"{method} {url} ({rule.endpoint}): {problem}")
        walked.add((rule.endpoint, api))
    assert not problems, "\n".join(problems)
    # The walk really reached the guarded areas, pages and API alike.
    pages = {endpoint for endpoint, api in walked if not api}
    assert {"core.home", "auth.users", "auth.tokens", "audit.index"} <= pages
    assert any(api for _, api in walked)


@pytest.mark.parametrize(
    ("endpoint", "method", "needed"),
    [
        ("stores.edit", "POST", Permission.CHANGE_SETUP),
        ("stores.detail", "GET", Permission.READ_SETUP),
        ("auth.users", "GET", Permission.MANAGE_USERS),
        ("auth.user_token_revoke", "POST", Permission.MANAGE_USERS),
        ("auth.token_revoke", "POST", SIGNED_IN),
        ("audit.entry", "GET", Permission.READ_AUDIT),
        ("schedules.run_now", "POST", Permission.RUN_DISTRIBUTION),
        ("schedules.edit", "POST", Permission.CHANGE_SCHEDULES),
        ("schedules.retry_run", "POST", Permission.RETRY_BUILDS),
        ("something_new.page", "DELETE", Permission.CHANGE_SETUP),
    ],
)
def test_guard_table_picks_the_longest_prefix_and_defaults_to_setup(endpoint, method, needed):
    assert required(endpoint, method) == needed


def test_showing_a_form_needs_the_right_to_submit_it():
    assert required("stores.edit", "GET", form=True) == Permission.CHANGE_SETUP
    assert required("auth.token_new", "GET", form=True) == SIGNED_IN


def test_route_that_answers_anonymous_callers_is_reported(app, client):
    # A stand-in for a page someone forgot to guard: the matrix must call it a problem.
    with client.get("/static/css/portal.css") as response:
        assert response.status_code == 200
        problem = check(response, None, Permission.READ_SETUP, api=False, method="GET")
    assert problem and "not sign-in" in problem


def test_hq_runs_schedules_but_leaves_changing_them_and_retrying_builds_to_schedulers(
    app, client, login, token_for
):
    objects = make_objects(app, login("hq"))
    code, group = objects["schedule"]["code"], objects["group"]["name"]
    headers = token_for("hq")
    schedule = {"code": "NEW", "name": "New", "jobs": ["1080"], "groups": [group]}

    refused = {
        "page create": client.post("/distribution/schedules/new", data=schedule),
        "page edit": client.post(f"/distribution/schedules/{code}/edit", data=schedule),
        "page delete": client.post(f"/distribution/schedules/{code}/delete"),
        "session retry": client.post(f"/distribution/sessions/{objects['session']['id']}/retry"),
        "run retry": client.post(f"/distribution/runs/{objects['run']['id']}/retry"),
        "API create": client.post("/api/v1/distribution-schedules", json=schedule, headers=headers),
        "API edit": client.patch(
            f"/api/v1/distribution-schedules/{code}", json={"name": "Changed"}, headers=headers
        ),
        "API delete": client.delete(f"/api/v1/distribution-schedules/{code}", headers=headers),
    }
    page = client.get(f"/distribution/schedules/{code}").text
    ran = client.post(f"/api/v1/distribution-schedules/{code}/runs", json={}, headers=headers)

    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 403)
    assert "Run now" in page
    assert f"/schedules/{code}/edit" not in page and f"/schedules/{code}/delete" not in page
    assert ran.status_code == 202


def test_readme_role_table_is_the_one_the_permissions_give():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert with_roles_table(readme) == readme, (
        "README.md's role table differs from GRANTS in portal/auth/roles.py; rewrite it with "
        "`flask --app app portal roles-table --readme README.md`"
    )


def test_roles_table_command_prints_and_rewrites_the_table(app, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# P\n\n## Roles\n\n| role | may |\n|---|---|\n| hq | all |\n\nAfter.\n")

    printed = app.test_cli_runner().invoke(args=["portal", "roles-table"])
    rewritten = app.test_cli_runner().invoke(
        args=["portal", "roles-table", "--readme", str(readme)]
    )

    assert printed.exit_code == 0 and printed.output == roles_table()
    assert (
        "| create, edit and delete distribution schedules; edit scheduler jobs and parameters; "
        "manage alert webhooks | yes | no | yes | no |"
    ) in printed.output
    assert rewritten.exit_code == 0
    assert readme.read_text() == f"# P\n\n## Roles\n\n{roles_table()}\nAfter.\n"
