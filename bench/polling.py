"""Device polling capacity: heartbeats and package checks at a rising rate, against bare Flask.

A chain's devices mostly poll with nothing new: every few minutes a heartbeat (`POST /status`)
and a package check (`GET /packages?status=available`, sending the list's last ETag in
`If-None-Match`). The portal runs under gunicorn on PostgreSQL as in production; the load is
open-loop (requests are sent at their scheduled times whatever the answers) and rises step by
step. A step is sustained when every answer was right (200, or 304 for an unchanged list), at
least 95% of its requests went out on time and their p99 stayed under 250 ms. The baseline is
a bare Flask endpoint (`bench/polling_app.py`) served by the same gunicorn in the same run,
driven the same way; the figure also says how many devices, polling every 5 minutes, the
sustained rate serves.

Both sides climb the same ladder, each step about 1.25 times the last (the R10 preferred
numbers, 40 to 2,000 requests/s), so the ratio measures capacity to within a step rather than
the ladder: steps that double would read 200/800 = 0.25 for a side that holds 350. The load
runs on the same machine as the server; each step also reports the CPU its load processes used,
in cores, to show whether they, not the server, were what ran out.
"""

import itertools
import multiprocessing
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench import fixtures
from bench.database import portal_on_fresh_database
from bench.server import ms, percentile, portal_server
from portal.agent.client import API_PATH
from portal.core.extensions import db
from portal.device_api import credentials
from portal.distribution.models import SESSION_APPLIED, DownloadSession
from portal.setup.channels import services as channels
from portal.setup.models import Register

P99_TARGET = 0.250
ON_TIME = 0.95
INTERVAL_S = 300  # a device polls every 5 minutes
RATES = (40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000, 1250, 1600, 2000)
SIZES = {
    "full": {"stores": 250, "seconds": 10},
    "quick": {"stores": 10, "seconds": 3},
}
PROCESSES = 2
WARM_UP_RATE = 50
THREADS = 24
HEARTBEAT = {"mode": "online", "pending_uploads": 0, "app_version": "bench"}


@dataclass
class Step:
    """What one step of the load saw."""

    rate: int
    latencies: list[float] = field(default_factory=list)
    late: int = 0
    errors: list[str] = field(default_factory=list)
    client_cpu: float = 0.0  # CPU seconds the load processes used
    seconds: float = 0.0  # from the start until the last answer

    def p99(self) -> float:
        """The step's p99 latency in seconds."""
        return percentile(self.latencies, 0.99) if self.latencies else float("inf")

    def sustained(self) -> bool:
        """Right answers, on time, p99 under the target."""
        sent = len(self.latencies)
        return (
            not self.errors
            and sent
            and (sent - self.late) / sent >= ON_TIME
            and (self.p99() < P99_TARGET)
        )


def polling_benchmark(quick: bool, scratch: Path, step) -> list[tuple]:
    """The sustained polling rate of the device API against bare Flask's, under one gunicorn."""
    sizes = SIZES["quick" if quick else "full"]
    folder = scratch / "polling"
    packages = folder / "packages"
    with portal_on_fresh_database("polling", str(packages)) as app:
        devices = sizes["stores"] * 4
        step(f"polling: {devices} offline registers with their packages applied")
        tokens = _seed(sizes["stores"])
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]
        with portal_server(
            database_url, packages.resolve(), folder / "server.log", wsgi="bench.polling_app:app"
        ) as server:
            etags = _last_etags(server.url, tokens)
            device = _climb(server.url, tokens, etags, sizes, "device", step)
            bare = _climb(server.url, tokens, etags, sizes, "bare", step)
            problems = server.errors()
        db.session.remove()
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems[:30])
        raise SystemExit(f"polling: {len(problems)} error(s) in the server log:\n{listed}")
    return _rows(device, bare)


def _seed(stores: int) -> list[str]:
    """Stores with 4 offline registers each, their packages built and applied; their tokens."""
    fixtures.catalogue(100, "BENCH")
    channels.create_group("Poll", "Stores polling")
    db.session.commit()
    fixtures.stores_with_offline_registers(stores, 4, "Poll")
    fixtures.schedule("POLL", ["1040", "1080"], ["Poll"])
    fixtures.run("POLL")
    db.session.execute(
        sa.update(DownloadSession)
        .where(DownloadSession.package_id.is_not(None))
        .values(status=SESSION_APPLIED)
    )
    tokens = []
    for register in db.session.scalars(sa.select(Register).order_by(Register.id)):
        _, code = credentials.issue_activation_code(register.offline_database)
        _, secret, _ = credentials.activate(register.offline_database.id, code)
        tokens.append(secret)
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return tokens


def _last_etags(url: str, tokens: list[str]) -> dict[str, str]:
    """Each device's package list ETag, as its poll 5 minutes ago left it.

    A device keeps the ETag of its last answer from poll to poll; a load process that started
    every step with none would make most of a large fleet's checks a full list (each token polls
    once or twice a step), which is a device's first poll, not its routine.
    """
    etags = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for token in tokens:
            response = client.get(
                f"{API_PATH}/packages",
                headers={"Authorization": f"Bearer {token}"},
                params={"status": "available"},
            )
            response.raise_for_status()
            etags[token] = response.headers["ETag"]
    return etags


def _climb(
    url: str, tokens: list[str], etags: dict[str, str], sizes: dict, kind: str, step
) -> list[Step]:
    """Steps of rising rate until one is not sustained (or the last); the steps run."""
    steps = []
    # Warm up first: every gunicorn thread opens its database connection and psycopg prepares
    # its statements on first use; a cold one would make the first step's p99.
    _drive(url, tokens, etags, WARM_UP_RATE, 4, kind)
    for rate in RATES:
        result = _drive(url, tokens, etags, rate, sizes["seconds"], kind)
        steps.append(result)
        verdict = "sustained" if result.sustained() else "not sustained"
        late = result.late / max(1, len(result.latencies))
        step(
            f"polling ({kind}): {rate} requests/s: p99 {ms(result.p99())}, "
            f"{late:.0%} late, {len(result.errors)} errors, load processes "
            f"{result.client_cpu / max(result.seconds, 0.001):.2f} cores: {verdict}"
        )
        if not result.sustained():
            break
    return steps


def _drive(
    url: str, tokens: list[str], etags: dict[str, str], rate: int, seconds: float, kind: str
) -> Step:
    """`rate` requests a second for `seconds`, from a few processes; what they saw together."""
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Queue()
    processes = [
        context.Process(
            target=_load_process,
            args=(
                url,
                tokens[n::PROCESSES],
                {token: etags[token] for token in tokens[n::PROCESSES]},
                rate / PROCESSES,
                seconds,
                kind,
                ready,
                go,
                results,
            ),
        )
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    merged = Step(rate)
    try:
        for _ in processes:
            # Spawned processes import the portal first: the clock starts once all are ready.
            ready.get(timeout=300)
        start_at = time.time() + 0.2
        for _ in processes:
            go.put(start_at)
        for _ in processes:
            try:
                part = results.get(timeout=seconds + 120)
            except queue.Empty:
                raise SystemExit("polling: a load process did not report") from None
            merged.latencies += part.latencies
            merged.late += part.late
            merged.errors += part.errors
            merged.client_cpu += part.client_cpu
            merged.seconds = max(merged.seconds, part.seconds)
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
    return merged


def _load_process(url, tokens, etags, rate, seconds, kind, ready, go, results) -> None:
    """Send polls (two requests each) at `rate` requests a second, open-loop, on threads."""
    polls = int(rate * seconds / 2)
    spacing = 2 / rate
    counter = itertools.count()
    lock = threading.Lock()
    outcome = Step(int(rate))
    clients = [httpx.Client(base_url=url, timeout=30) for _ in range(THREADS)]
    ready.put(True)
    start_at = go.get()
    cpu_at_start = time.process_time()

    def worker(client: httpx.Client) -> None:
        while True:
            with lock:
                index = next(counter)
            if index >= polls:
                return
            due = start_at + index * spacing
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            elif wait < -P99_TARGET:
                outcome.late += 2  # the client could not keep up: the poll went out late
            token = tokens[index % len(tokens)]
            try:
                if kind == "bare":
                    _timed(client.get, "/bare/ping", outcome, (200,))
                    _timed(client.get, "/bare/ping", outcome, (200,))
                else:
                    _poll(client, token, etags, outcome)
            except httpx.HTTPError as error:
                outcome.errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=worker, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.client_cpu = time.process_time() - cpu_at_start
    outcome.seconds = time.time() - start_at
    for client in clients:
        client.close()
    results.put(outcome)


def _poll(client: httpx.Client, token: str, etags: dict, outcome: Step) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    _timed(client.post, f"{API_PATH}/status", outcome, (200,), headers=headers, json=HEARTBEAT)
    etag = etags.get(token)
    check = {**headers, **({"If-None-Match": etag} if etag else {})}
    response = _timed(
        client.get,
        f"{API_PATH}/packages",
        outcome,
        (200, 304),
        headers=check,
        params={"status": "available"},
    )
    if response.status_code == 200 and response.headers.get("ETag"):
        etags[token] = response.headers["ETag"]


def _timed(send, path: str, outcome: Step, ok: tuple[int, ...], **kwargs) -> httpx.Response:
    started = time.perf_counter()
    response = send(path, **kwargs)
    outcome.latencies.append(time.perf_counter() - started)
    if response.status_code not in ok:
        outcome.errors.append(f"{path}: HTTP {response.status_code} {response.text[:200]}")
    return response


def _best(steps: list[Step]) -> Step | None:
    sustained = [s for s in steps if s.sustained()]
    return sustained[-1] if sustained else None


def _rows(device: list[Step], bare: list[Step]) -> list[tuple]:
    ours, floor = _best(device), _best(bare)
    ceiling = " (the highest step tried)"
    our_rate = ours.rate if ours else 0
    floor_rate = floor.rate if floor else 0
    ours_text = f"{our_rate:,} requests/s, p99 {ms(ours.p99())}" if ours else "none sustained"
    if ours is device[-1] and ours.sustained():
        ours_text += ceiling
    floor_text = f"{floor_rate:,} requests/s, p99 {ms(floor.p99())}" if floor else "none"
    if floor is bare[-1] and floor and floor.sustained():
        floor_text += ceiling
    devices = our_rate / 2 * INTERVAL_S
    return [
        (
            "device polling (heartbeat + package check), sustained with p99 < 250 ms",
            ours_text,
            f"{floor_text} (bare Flask, same gunicorn)",
            f"{our_rate / floor_rate:.2f}" if floor_rate else "-",
            "≥ 0.3",
        ),
        (
            "devices polling every 5 minutes that this rate serves",
            f"{devices:,.0f} devices",
            "50,000 devices (333 requests/s)",
            f"{devices / 50_000:.2f}",
            "≥ 1 for 50,000",
        ),
    ]
