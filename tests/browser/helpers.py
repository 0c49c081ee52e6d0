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


# What the focused element looks like: a keyboard user must see where they are on the page.
_FOCUS = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const label = el.labels && el.labels.length ? el.labels[0].textContent : "";
    const name = el.getAttribute("aria-label") || label || el.textContent || el.name || "";
    return {
        element: `<${el.tagName.toLowerCase()}> ${name.trim().replace(/\\s+/g, " ").slice(0, 60)}`,
        outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
        // A shadow of zero size (a transition's start) shows nothing.
        ring: style.boxShadow !== "none" && /[1-9][0-9.]*px/.test(style.boxShadow),
        on_screen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
            && box.top < window.innerHeight && box.left < window.innerWidth,
    };
}"""


def focus_problem(page: Page) -> str | None:
    """Why a keyboard user could not see the focused element, or None when they can."""
    focus = page.evaluate(_FOCUS)
    if focus is None:
        return "nothing has the focus"
    if not (focus["outline"] or focus["ring"]):
        return f"{focus['element']} has the focus but neither an outline nor a focus ring"
    if not focus["on_screen"]:
        return f"{focus['element']} has the focus but is off screen"
    return None
