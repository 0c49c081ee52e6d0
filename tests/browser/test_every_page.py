"""Every HTML page of the portal at desktop and tablet width: axe-clean, no sideways scroll.

As an admin, with the demo's data and the route matrix's objects present, each page is checked
at 1280 px and 768 px with axe (no critical or serious violation) and for sideways scrolling,
and its first Tab stops after the skip link must show their focus. The pages come from the URL
map, so a page added later is checked without anyone listing it here. A GET route that answers
something other than HTML must be named in NOT_PAGES (and is checked to answer no HTML); one
whose URL the matrix cannot fill fails in tests/core/routes.py, which says where to add its
object.
"""

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

from portal.auditor.models import Anomaly
from portal.auth import password_links
from portal.auth import services as auth
from portal.core.extensions import db
from portal.distribution.models import DownloadSession
from tests.browser.helpers import assert_accessible, focus_problem, horizontal_overflow
from tests.core.routes import is_api, make_objects, url_for_rule
from tests.distribution.conftest import run_schedule
from tests.transactions.auditor_setup import (
    ago,
    anomaly,
    local,
    priced,
    sold,
    stored,
    upload,
)

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": {"width": 1280, "height": 800}, "tablet": {"width": 768, "height": 1024}}

# GET routes that are not pages, and why. Anything else must answer a page.
NOT_PAGES = {
    "static": "stylesheets, scripts and images",
    "masterdata.template": "a CSV template to download",
    "transactions.export_csv": "a CSV export to download",
    "schedules.run_progress": "the JSON the run page polls",
    "health.healthz": "a JSON liveness probe",
    "health.readyz": "a JSON readiness probe",
    "health.favicon": "the icon",
    "ops.metrics": "Prometheus' text format",
    "bulk.export": "a CSV export of stores or registers to download",
    "bulk.operation_progress": "the JSON the operation page polls",
}
# Pages opened through a one-time link: checked below with a link's token.
LINK_PAGES = {"auth.password_invite", "auth.password_reset"}
# Shown only to visitors: a signed-in user is sent on to the dashboard.
SIGNED_OUT_PAGES = {"auth.login"}
# Master data tables whose forms use other kinds of field than the route matrix's tax code.
# Tab stops checked on each page, after the skip link: the menu is the same everywhere.
FOCUS_STOPS = 25
MORE_ENTITIES = ("product", "trade_agreement", "store_settings", "feature_switch")


def test_every_page_is_accessible_and_fits_desktop_and_tablet(page, signed_in, shot, app):
    # Without transitions a focus ring is drawn in full at once.
    page.emulate_media(reduced_motion="reduce")
    with app.app_context():
        _seed(app)
    # The sign-in page as a visitor sees it; once signed in, it sends the user on.
    problems = _check(page, shot, "auth.login", "/login")
    email = signed_in("admin")
    objects = make_objects(app, email)
    with app.app_context():
        finished = _finished_run()
    pages = _pages(app, objects, finished)

    for label, url, status in pages:
        problems += _check(page, shot, label, url, status)

    problems += _not_pages_are_no_pages(app, page, objects)
    summary = f"{len(problems)} problem(s) on {len(pages) + 1} pages:\n"
    assert not problems, summary + "\n".join(problems)


def test_not_pages_names_only_routes_that_exist(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(NOT_PAGES) | SIGNED_OUT_PAGES | LINK_PAGES <= endpoints


def _page_endpoints(app) -> set[str]:
    """Every endpoint that answers GET with a page for a signed-in user."""
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and not is_api(rule)
        and rule.endpoint not in NOT_PAGES
        and rule.endpoint not in SIGNED_OUT_PAGES
        and rule.endpoint not in LINK_PAGES
    }


def _pages(app, objects, finished: int) -> list[tuple[str, str, int]]:
    """(label, URL, status) of every page: one per route, then states that look different."""
    endpoints = _page_endpoints(app)
    rules = sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint in endpoints),
        key=lambda rule: rule.rule,
    )
    pages = [(rule.endpoint, url_for_rule(rule, objects), 200) for rule in rules]
    pages += [
        ("schedules.run_detail (finished)", f"/distribution/runs/{finished}", 200),
        ("schedules.run_detail (filtered)", f"/distribution/runs/{finished}?status=done", 200),
        ("transactions.index (filtered)", "/transactions/?anomaly=price_override", 200),
        ("anomalies.index (filtered)", "/anomalies/?kind=price_override", 200),
        ("error page", "/stores/NO-SUCH-STORE", 404),
        ("auth.password_invite", _link(app, password_links.INVITE), 200),
        ("auth.password_reset", _link(app, password_links.RESET), 200),
        ("auth.password_reset (used or expired)", "/password/reset?token=nope", 410),
    ]
    for entity in MORE_ENTITIES:
        pages += [
            (f"masterdata.rows ({entity})", f"/masterdata/{entity}/", 200),
            (f"masterdata.create ({entity})", f"/masterdata/{entity}/new", 200),
        ]
    return pages


def _link(app, purpose: str) -> str:
    """The path of a one-time link for a new user."""
    with app.test_request_context():
        user = auth.create_user(f"{purpose}-page@example.com", "hq", "a-long-password")
        link = password_links.link_for(user, purpose)
        db.session.commit()
    return link.split("localhost", 1)[1]


def _check(page: Page, shot, label: str, url: str, expected: int = 200) -> list[str]:
    """What is wrong with the page at each width, one line per problem naming page and width."""
    problems = []
    response = page.goto(url)
    if response.status != expected:
        return [f"{label} {url}: answered {response.status}, not {expected}"]
    kind = response.headers.get("content-type", "")
    if not kind.startswith("text/html"):
        return [f"{label} {url}: answered {kind}; if it is no page, add it to NOT_PAGES"]
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        where = f"{label} {url} at {width} ({viewport['width']} px)"
        found = []
        try:
            assert_accessible(page)
        except AssertionError as error:
            found.append(f"{where}: {error}")
        overflow = horizontal_overflow(page)
        if overflow:
            found.append(f"{where}: scrolls {overflow} px sideways")
        if found:
            shot(page, f"{label}-{width}")
        problems += found
    page.set_viewport_size(WIDTHS["desktop"])
    problems += [f"{label} {url}: {problem}" for problem in _focus_walk(page)]
    return problems


def _focus_walk(page: Page) -> list[str]:
    """Follow the skip link, then Tab through the content: every stop must show its focus."""
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    problems = []
    for _ in range(FOCUS_STOPS):
        page.keyboard.press("Tab")
        problem = focus_problem(page)
        if problem == "nothing has the focus":
            break
        if problem and problem not in problems:
            problems.append(problem)
    return problems


def _not_pages_are_no_pages(app, page: Page, objects) -> list[str]:
    """NOT_PAGES must not become a way round the checks: each of its routes answers no HTML."""
    problems = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in NOT_PAGES or rule.endpoint == "static":
            continue
        url = url_for_rule(rule, objects)
        response = page.request.get(url)
        kind = response.headers.get("content-type", "")
        if response.status != 200 or kind.startswith("text/html"):
            problems.append(f"{rule.endpoint} {url}: answered {response.status} {kind}")
        response.dispose()
    return problems


def _seed(app) -> None:
    """The demo's stores, registers, profiles, schedules and master data, and offline sales."""
    result = app.test_cli_runner().invoke(args=["portal", "seed-demo", "--products", "20"])
    assert result.exit_code == 0, result.output
    # A gap in the receipt numbers (found by the rules) and a price typed at the register.
    typed = sold("HOUSTON-1", 4, created_at=local(ago(hours=3)), **priced("0.0100"))
    upload(
        "HOUSTON-1",
        sold("HOUSTON-1", 1, created_at=local(ago(days=2)), staff="000160"),
        typed,
        sold("HOUSTON-1", 5, created_at=local(ago(minutes=20)), offline=False),
    )
    upload("SEATTLE-1", sold("SEATTLE-1", 1, created_at=local(ago(days=9))))
    anomaly(stored(typed["transaction_id"]), "price_override", "Price typed in at the register")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Anomaly)) > 1
    db.session.remove()


def _finished_run() -> int:
    """A run of the demo's sales tax schedule with full data sync, built to its end."""
    run = run_schedule("1080", full=True)
    assert run.status == "done", run.message
    run_id = run.id
    assert db.session.scalars(sa.select(DownloadSession.id).filter_by(run_id=run_id)).all()
    db.session.remove()
    return run_id
