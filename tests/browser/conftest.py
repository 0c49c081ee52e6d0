"""Real-browser fixtures: the portal on a live port, driven by Debian's headless Chromium."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking switches Chromium keeps calling home, which a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run; never a downloaded browser build."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_url, app):
    """A fresh browser context and page per test, 1280x800, its base URL the live portal.

    The test also fails if a page throws a script error or the browser refuses a script or
    style under the Content-Security-Policy: both leave a page that looks fine but is broken.
    """
    context = browser.new_context(viewport=VIEWPORT, base_url=live_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = []

    def on_console(message):
        if message.type == "error" and "Content Security Policy" in message.text:
            problems.append(f"{message.text} (on {page.url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error: {error} (on {page.url})"))
    yield page
    context.close()
    assert not problems, "The browser reported:\n" + "\n".join(problems)


@pytest.fixture
def shot(request):
    """`shot(page, "step")` saves test-artifacts/screenshots/<test name>-<step>.png."""

    def take(page: Page, step: str) -> Path:
        path = _screenshot_path(request.node, step)
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def signed_in(page, make_user):
    """`signed_in(role)` creates a user and signs in through the real form; returns the email."""

    def sign_in(role: str) -> str:
        email = make_user(role)
        page.goto("/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/$"))
        return email

    return sign_in


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing browser test, keep a last screenshot and name the page it was on."""
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when != "call" or not report.failed or page is None or page.is_closed():
        return
    path = _screenshot_path(item, "failed")
    try:
        page.screenshot(path=str(path), full_page=True)
        saved = str(path)
    except Exception as error:  # the test's own failure matters more than a lost screenshot
        saved = f"none ({error})"
    detail = f"page URL: {page.url}\nscreenshot: {saved}"
    if hasattr(report.longrepr, "addsection"):
        report.longrepr.addsection("browser", detail)
    else:
        report.sections.append(("browser", detail))


def _screenshot_path(item: pytest.Item, step: str) -> Path:
    folder = item.config.rootpath / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{_safe(item.name)}-{_safe(step)}.png"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
