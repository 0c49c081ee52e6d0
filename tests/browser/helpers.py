"""Checks a browser test makes on any page: accessibility (axe-core) and layout."""

from pathlib import Path

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = ("critical", "serious")


def assert_accessible(page: Page) -> None:
    """Run axe-core on the page; fail on any violation of critical or serious impact."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated over the DevTools protocol: the portal's CSP refuses injected script tags.
        page.evaluate(AXE.read_text())
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in blocking
    )
    assert not blocking, f"axe found accessibility problems on {page.url}:\n{report}"


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
