"""HQ pages under load: 20 people browsing lists and searches over a large chain's sales.

The portal runs as in production: gunicorn on PostgreSQL and Redis, a Celery worker beside it.
The chain has thousands of offline registers and a million sales over 90 days, seeded with
set-based SQL (`bench.web_data`). Signed-in HQ staff, auditors and admins each loop over the
transaction list (first page, older pages through the cursor, one store's sales, a receipt
looked up), the anomalies, the registers and stores (listed and searched) and the upload
sessions, pausing between pages as a person does.

Phase 1 is that load alone. Phase 2 is the same load while an HQ user's "Run now" with full
data sync builds the 1040 and 1080 packages of every store's and register's database on the
real worker; only the requests sent while the run is in progress count. Any answer other than 200, a
transport error, a failed run or an error line in a server or worker log fails the benchmark.
"""

import html
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.database import portal_on_fresh_database
from bench.server import celery_worker, ms, percentile, portal_server
from bench.web_data import PASSWORD, REGISTERS_EACH, Chain, seed
from portal.core.extensions import db
from portal.distribution.models import RUN_DONE, RUN_FAILED, DistributionRun, DownloadSession

USERS = 20
# A person reads a page before the next click; 0.5 to 1.5 s is brisk for someone working a list.
THINK_SECONDS = (0.5, 1.5)
# The newest pages are read most, but auditors also page back through a busy day.
OLDER_PAGES = 3
TARGET_MS = 500
BUILD_TIMEOUT = 1800
QUEUE = "bench-web-load"
_OLDER = re.compile(r'rel="next" href="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass(frozen=True, slots=True)
class Request:
    """One page a user asked for: which, when it was sent, how long it took, what went wrong."""

    page: str
    sent: float
    seconds: float
    problem: str = ""


class Person:
    """One signed-in user and their own browser session, clicking through the pages."""

    def __init__(self, url: str, email: str, token: str, chain: Chain, number: int):
        self.client = httpx.Client(base_url=url, timeout=60)
        self.email, self.token, self.chain = email, token, chain
        self.random = random.Random(number)
        self.requests: list[Request] = []
        # The "Older" link each list showed last, followed on the next visit.
        self.older: dict[str, str | None] = {"transactions": None, "anomalies": None}
        self.pages = self._rounds()

    def sign_in(self) -> None:
        """The sign-in form, as a browser posts it."""
        form = self.client.get("/login")
        match = _CSRF.search(form.text)
        if form.status_code != 200 or match is None:
            raise SystemExit(f"web load: no sign-in form for {self.email} ({form.status_code})")
        answer = self.client.post(
            "/login",
            data={
                "email": self.email,
                "password": PASSWORD,
                "csrf_token": match.group(1),
            },
        )
        if answer.status_code != 302:
            raise SystemExit(f"web load: {self.email} could not sign in ({answer.status_code})")

    def browse(self, stop: threading.Event) -> None:
        """Visit page after page until `stop` is set; the next phase carries on from there."""
        while not stop.is_set():
            page, path, params, headers = next(self.pages)
            response = self.get(page, path, params, headers)
            listing = page.removesuffix(", older page")
            if listing in self.older:
                self.older[listing] = response and _older_link(response.text)
            stop.wait(self.random.uniform(*THINK_SECONDS))

    def _rounds(self):
        """The pages, round after round, each round with its own store and receipt."""
        chain, pick = self.chain, self.random
        while True:
            store = chain.store_number(pick.randrange(chain.stores))
            till = pick.randrange(chain.registers)
            receipt = chain.receipt(till, pick.randrange(chain.sales_of(till)) + 1)
            for listing, path, older_pages in (
                ("transactions", "/transactions/", OLDER_PAGES),
                ("anomalies", "/anomalies/", 1),
            ):
                yield listing, path, {}, {}
                for _ in range(older_pages):
                    # Read when the page is due: the link is the one the last page showed.
                    if self.older[listing]:
                        yield f"{listing}, older page", self.older[listing], {}, {}
                if listing == "transactions":
                    yield "transactions of a store", path, {"store": store}, {}
                    # The HTML filter has no receipt field; the auditors' API looks receipts up.
                    yield (
                        "transaction by receipt (API)",
                        "/api/v1/transactions",
                        {"q": receipt, "limit": 25},
                        {"Authorization": f"Bearer {self.token}"},
                    )
                    # Any part of a receipt number, as an auditor types what a customer read out:
                    # the trigram index, not a prefix.
                    yield "transactions, part of a receipt", path, {"q": receipt[2:]}, {}
            yield "registers", "/registers/", {}, {}
            yield "registers, search", "/registers/", {"q": store[:-1]}, {}
            yield "stores", "/stores/", {}, {}
            yield "stores, search", "/stores/", {"q": store[:-1]}, {}
            yield "upload sessions", "/upload-sessions/", {}, {}

    def get(self, page: str, path: str, params: dict, headers: dict) -> httpx.Response | None:
        """Ask for a page and record how long the whole answer took."""
        sent = time.monotonic()
        started = time.perf_counter()
        try:
            response = self.client.get(path, params=params, headers=headers)
        except httpx.TransportError as error:
            seconds = time.perf_counter() - started
            self.requests.append(Request(page, sent, seconds, f"{type(error).__name__} {error}"))
            return None
        seconds = time.perf_counter() - started
        problem = "" if response.status_code == 200 else f"HTTP {response.status_code} {path}"
        self.requests.append(Request(page, sent, seconds, problem))
        return response


def _older_link(page: str) -> str | None:
    match = _OLDER.search(page)
    return html.unescape(match.group(1)) if match else None


def web_load_benchmark(sizes: dict, scratch: Path, step) -> list[tuple]:
    """p95 and p99 of the pages for 20 users, idle and during a full build of every register."""
    folder = scratch / "web_load"
    packages = (folder / "packages").resolve()
    with portal_on_fresh_database("web_load", str(packages)) as app:
        registers, sales = sizes["web_registers"], sizes["web_transactions"]
        step(f"web load: {registers:,} registers, {sales:,} transactions")
        chain, accounts = seed(registers // REGISTERS_EACH, sales, USERS, step)
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        environment = {
            "CELERY_QUEUE": QUEUE,
            "SECRET_KEY": secrets.token_hex(32),
            # Web server and worker share the cores here: the worker gives way, as advised.
            "WORKER_NICE": "10",
        }
        step("web load: starting gunicorn and a Celery worker")
        with (
            portal_server(url, packages, folder / "server.log", environment) as server,
            celery_worker(url, packages, folder / "worker.log", environment) as worker,
        ):
            people = [Person(server.url, *account, chain, n) for n, account in enumerate(accounts)]
            for person in people:
                person.sign_in()
            step("web load: warming up")
            _load(people, lambda: time.sleep(sizes["web_warmup"]))
            step(f"web load: {USERS} users for {sizes['web_seconds']} s, idle")
            idle = _load(people, lambda: time.sleep(sizes["web_seconds"]))
            step(f"web load: {USERS} users during a full build for every store and register")
            build = {}
            during = _load(people, lambda: build.update(_full_build(server.url, accounts[0][1])))
            problems = [r.problem for r in idle + during if r.problem]
            problems += server.errors() + worker.errors() + build.get("problems", [])
            for person in people:
                person.client.close()
        db.session.remove()
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems[:30])
        raise SystemExit(f"web load: {len(problems)} error(s), the first ones:\n{listed}")
    _print_pages("idle", idle, step)
    _print_pages("during the build", during, step)
    return _rows(idle, during, build)


def _load(people: list[Person], meanwhile) -> list[Request]:
    """Everyone browsing while `meanwhile()` runs; the requests sent in that time."""
    stop = threading.Event()
    for person in people:
        person.requests = []
    threads = [threading.Thread(target=p.browse, args=(stop,)) for p in people]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        meanwhile()
    finally:
        ended = time.monotonic()
        stop.set()
        for thread in threads:
            thread.join()
    return [r for p in people for r in p.requests if started <= r.sent <= ended]


def _full_build(url: str, token: str) -> dict:
    """Run the schedule now with full data sync, as HQ does, and wait for the worker to finish."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.post("/api/v1/distribution-schedules/LOAD/runs", json={"full": True})
    if answer.status_code != 202:
        return {"problems": [f"Run now: HTTP {answer.status_code} {answer.text[:200]}"]}
    run_id = answer.json()["id"]
    deadline = time.monotonic() + BUILD_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(0.5)
        db.session.commit()
        run = db.session.get(DistributionRun, run_id, populate_existing=True)
        if run.status in (RUN_DONE, RUN_FAILED):
            problems = [] if run.status == RUN_DONE and not run.sessions_failed else [
                f"run {run.id}: {run.status}, {run.sessions_failed} sessions failed, {run.message}"
            ]  # fmt: skip
            return {
                "problems": problems,
                "targets": db.session.scalar(
                    sa.select(
                        sa.func.count(sa.distinct(DownloadSession.channel_database_id))
                    ).where(DownloadSession.run_id == run.id)
                ),
                "sessions": run.sessions_total,
                "seconds": (run.finished_at - run.started_at).total_seconds(),
            }
    return {"problems": [f"run {run_id} did not finish within {BUILD_TIMEOUT} s"]}


def _pages(requests: list[Request]) -> dict[str, list[float]]:
    pages: dict[str, list[float]] = {}
    for request in requests:
        pages.setdefault(request.page, []).append(request.seconds)
    return pages


def _print_pages(phase: str, requests: list[Request], step) -> None:
    """Each page's count and percentiles, for finding the slow one."""
    for page, seconds in sorted(_pages(requests).items()):
        figures = ", ".join(
            f"p{round(q * 100)} {ms(percentile(seconds, q))}" for q in (0.5, 0.95, 0.99)
        )
        count, worst = len(seconds), ms(max(seconds))
        step(f"web load, {phase}: {page}: {count:,} requests, {figures}, max {worst}")


def _rows(idle: list[Request], during: list[Request], build: dict) -> list[tuple]:
    """p99 idle against the target, p99 during the build against idle; p95 beside each."""
    idle_s, during_s = [r.seconds for r in idle], [r.seconds for r in during]
    p95, p99 = percentile(idle_s, 0.95), percentile(idle_s, 0.99)
    build_p95, build_p99 = percentile(during_s, 0.95), percentile(during_s, 0.99)
    target = TARGET_MS / 1000
    label = f"web pages {{}}, {USERS} users"
    run = (
        f"{build['sessions']:,} sessions for {build['targets']:,} databases "
        f"built in {build['seconds']:.0f} s"
    )
    return [
        (
            label.format("p99, idle") + f" ({len(idle_s):,} requests)",
            ms(p99),
            f"{TARGET_MS} ms (target)",
            f"{p99 / target:.2f}",
            "≤ 1",
        ),
        (
            label.format("p95, idle"),
            ms(p95),
            f"{TARGET_MS} ms (target)",
            f"{p95 / target:.2f}",
            "(none)",
        ),
        (
            label.format("p99 during a full build") + f" ({len(during_s):,} requests; {run})",
            ms(build_p99),
            f"{ms(p99)} (idle p99)",
            f"{build_p99 / p99:.2f}",
            "≤ 1.2",
        ),
        (
            label.format("p95 during a full build"),
            ms(build_p95),
            f"{ms(p95)} (idle p95)",
            f"{build_p95 / p95:.2f}",
            "(none)",
        ),
    ]
