"""Master data search at a million products: the list pages' p99 against a small catalogue.

Each catalogue (the build benchmark's demo products, with barcodes and prices) gets a fresh
database. A signed-in HQ user then asks the master data pages, in process through the whole
view (search, count, page, template), for the first page, the last page the pager links, and
searches by product number, by a word of the name, by barcode and by price group, plus one
search through the JSON API. The queries are picked so they find rows at both sizes.
"""

import re
import time
from pathlib import Path

import sqlalchemy as sa

from bench import fixtures
from bench.database import portal_on_fresh_database
from bench.server import ms, percentile
from portal.auth import services as auth
from portal.core.extensions import db
from portal.core.web import COUNT_AHEAD
from portal.masterdata.demo_products import ean13, product_number

PASSWORD = "bench-password-1"
# Each page is asked this many times per catalogue; the p99 pools every request.
REPEATS = {"full": 20, "quick": 5}
TARGET_RATIO = 2
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def search_benchmark(sizes: dict, scratch: Path, step, quick: bool) -> list[tuple]:
    """The search pages' p99 with the large catalogue against the same with the small one."""
    repeats = REPEATS["quick" if quick else "full"]
    timings = {}
    for label, products in (("small", sizes["small"]), ("large", sizes["catalogue"])):
        with portal_on_fresh_database(f"search_{label}", str(scratch / f"search_{label}")) as app:
            step(f"search: seeding {products:,} products")
            fixtures.catalogue(products)
            _vacuum()
            user = auth.create_user("search@bench.example", "hq", PASSWORD)
            token = auth.create_token(user, "search benchmark")[1]
            db.session.commit()
            step(f"search: {repeats} rounds of the pages, {products:,} products")
            timings[label] = _measure(app, token, products, repeats, step)
    small = [s for seconds in timings["small"].values() for s in seconds]
    large = [s for seconds in timings["large"].values() for s in seconds]
    slow, base = percentile(large, 0.99), percentile(small, 0.99)
    return [
        (
            f"master data list and search p99, {len(large):,} requests",
            f"{ms(slow)} ({sizes['catalogue']:,} products)",
            f"{ms(base)} ({sizes['small']:,} products)",
            f"{slow / base:.2f}",
            f"≤ {TARGET_RATIO}",
        )
    ]


def _vacuum() -> None:
    """Merge the rows just loaded into the trigram indexes, as autovacuum does on a live database.

    Until then a GIN index keeps new entries in a pending list (up to 4 MB) that every search
    reads through; right after a bulk load that list, not the catalogue's size, sets the pace.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM (ANALYZE) product, barcode, trade_agreement"))


def _pages(products: int, per_page: int) -> list[tuple[str, str, dict]]:
    """(what, path, query) of each page asked; every search finds rows at any size."""
    middle = products // 2
    number = product_number(middle)
    last_page = min(COUNT_AHEAD, products) // per_page  # the last one the first page links
    return [
        ("products", "/masterdata/product/", {}),
        ("products, last linked page", "/masterdata/product/", {"page": last_page}),
        ("products by number", "/masterdata/product/", {"q": number}),
        ("products by part of a number", "/masterdata/product/", {"q": _part(products)}),
        ("products by a word of the name", "/masterdata/product/", {"q": "espresso"}),
        ("products, nothing found", "/masterdata/product/", {"q": "zzyzx"}),
        ("barcodes", "/masterdata/barcode/", {}),
        ("barcodes by barcode", "/masterdata/barcode/", {"q": ean13(f"20{middle:010d}")}),
        ("prices by product number", "/masterdata/trade_agreement/", {"q": number}),
        ("prices of a price group", "/masterdata/trade_agreement/", {"q": "outlet"}),
        ("products by a word of the name (API)", "/api/v1/masterdata/product", {"q": "espresso"}),
    ]


def _part(products: int) -> str:
    # The last five digits of a product number: found inside other numbers in a large catalogue.
    return product_number(products * 5 // 8)[-5:]


def _measure(app, token: str, products: int, repeats: int, step) -> dict[str, list[float]]:
    client = app.test_client()
    _sign_in(client)
    api = {"Authorization": f"Bearer {token}"}
    timings: dict[str, list[float]] = {}
    pages = _pages(products, app.config["PER_PAGE"])
    for round_ in range(repeats + 1):
        for what, path, query in pages:
            headers = api if path.startswith("/api/") else {}
            started = time.perf_counter()
            response = client.get(path, query_string=query, headers=headers)
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"search: {what} answered {response.status_code}")
            if round_:  # the first round warms the caches and is not counted
                timings.setdefault(what, []).append(seconds)
    for what, seconds in timings.items():
        step(f"  {what}: p50 {ms(percentile(seconds, 0.5))}, max {ms(max(seconds))}")
    return timings


def _sign_in(client) -> None:
    form = client.get("/login")
    match = _CSRF.search(form.get_data(as_text=True))
    if match is None:
        raise SystemExit("search: no sign-in form")
    answer = client.post(
        "/login",
        data={"email": "search@bench.example", "password": PASSWORD, "csrf_token": match[1]},
    )
    if answer.status_code != 302:
        raise SystemExit(f"search: could not sign in ({answer.status_code})")
