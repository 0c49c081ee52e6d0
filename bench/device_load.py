"""Device API under load: many agents syncing, selling offline and uploading at once.

The portal runs as in production: gunicorn with threaded workers, on PostgreSQL, as its own
process. Each agent is the reference agent (`portal.agent`) playing a register's offline
database with its own local state file: it syncs (the configuration, the package list, every
package downloaded, applied and reported, a heartbeat), records sales offline, then uploads
them in batches and sends another heartbeat. The agents run on threads spread over a few
processes, all released at once, so every one of them is in flight together.

Each HTTP request is timed from sending it to receiving its whole body, grouped by endpoint.
The baseline is the same work by one agent alone: the registers of one more store, run one
after another once the load is over (the workers are warm, as they are for most of the load).
Any error fails the benchmark: an answer of 400 or above, a transport failure (even one the
agent's retries recovered from), an agent that stopped, an error in the server's log, a sale
not stored exactly once, a package not applied.
"""

import multiprocessing
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench import fixtures
from bench.database import portal_on_fresh_database
from bench.server import ms, percentile, portal_server
from portal.agent import sales, sync
from portal.agent import upload as uploads
from portal.agent.client import API_PATH, PortalClient
from portal.agent.errors import AgentError
from portal.agent.local import LocalState, now_iso
from portal.core.extensions import db
from portal.device_api import credentials
from portal.device_api.schemas import DeviceDatabaseSchema
from portal.distribution.models import SESSION_APPLIED, DownloadSession
from portal.setup.channels import services as channels
from portal.setup.models import OFFLINE, ChannelDatabase, Register
from portal.transactions.models import PosTransaction

PRODUCTS = 1_000
REGISTERS_EACH = 4
SALES_PER_AGENT = 300
# What a sync applies: the full 1040 and 1080 packages, then an incremental 1080 one.
PACKAGES = 3
BATCH = 100
# The agents' own Python work (applying packages, recording sales) holds a process's GIL:
# a process per 5 agents or so, at most 8, keeps it from throttling the load on a small machine.
PROCESSES = 8
AGENTS_PER_PROCESS = 5
ENDPOINTS = (
    "GET /config",
    "GET /packages",
    "GET /packages/{id}/content",
    "POST /packages/{id}/status",
    "POST /status",
    "POST /transactions",
)
START_TIMEOUT = 300
_ID = re.compile(r"/\d+(?=/|$)")


@dataclass
class Outcome:
    """What one agent saw: each request's seconds by endpoint, and anything that went wrong."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Wall-clock times, comparable between the processes.
    started: float = 0.0
    finished: float = 0.0


def device_load_benchmark(agents: int, scratch: Path, step) -> list[tuple]:
    """p99 of each device endpoint with `agents` agents at once, against one agent alone."""
    folder = scratch / "device_load"
    packages = folder / "packages"
    stores = agents // REGISTERS_EACH
    with portal_on_fresh_database("device_load", str(packages)) as app:
        step(f"device load: {stores + 1} stores × {REGISTERS_EACH} offline registers, packages")
        tokens = _seed(stores + 1)
        registers = sorted(tokens)
        crowd, alone = registers[:-REGISTERS_EACH], registers[-REGISTERS_EACH:]
        step("device load: starting gunicorn")
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]
        with portal_server(database_url, packages.resolve(), folder / "server.log") as server:
            states = _agent_states(server.url, tokens, folder / "agents")
            step(f"device load: {len(crowd)} agents at once")
            load, seconds = _drive([(states[r], n) for n, r in enumerate(crowd)])
            step(f"device load: one agent alone, {len(alone)} times")
            started = time.perf_counter()
            single = [_run_agent(states[r], n, Outcome()) for n, r in enumerate(alone, len(crowd))]
            single_seconds = time.perf_counter() - started
            problems = [e for outcome in load + single for e in outcome.errors] + server.errors()
        problems += _check_database(registers)
        db.session.remove()
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems[:30])
        raise SystemExit(f"device load: {len(problems)} error(s), the first ones:\n{listed}")
    return _rows(len(crowd), (_merged(load), seconds), (_merged(single), single_seconds))


def _seed(stores: int) -> dict[str, tuple[str, dict]]:
    """Stores, their registers and the packages to sync; each register's token and database.

    The tokens come from the credential rules directly, not the activation endpoint: its rate
    limit of 10 a minute per address would hold 200 agents on one machine back for 20 minutes.
    """
    # The demo catalogue, with the group and offline profile the stores need; the stores under
    # load have no assortment of their own, so their registers sell every product.
    fixtures.catalogue(PRODUCTS, "BENCH")
    fixtures.tax_data()
    channels.create_group("Load", "Stores under load")
    db.session.commit()
    fixtures.stores_with_offline_registers(stores, REGISTERS_EACH, "Load")
    fixtures.schedule("LOAD", ["1040", "1080"], ["Load"])
    fixtures.run("LOAD")
    fixtures.tax_data_change()
    fixtures.run("LOAD")
    tokens = {}
    for register in db.session.scalars(sa.select(Register)):
        database = register.offline_database
        _, code = credentials.issue_activation_code(database)
        _, secret, _ = credentials.activate(database.id, code)
        tokens[register.register_number] = (secret, DeviceDatabaseSchema().dump(database))
    db.session.commit()
    return tokens


def _agent_states(url: str, tokens: dict, folder: Path) -> dict[str, str]:
    """Each register's local state file, holding what `portal-agent activate` would store."""
    states = {}
    for register, (token, database) in tokens.items():
        path = folder / f"{register}.sqlite"
        state = LocalState(path)
        state.put(url=url, token=token, database=database, activated_at=now_iso())
        state.close()
        states[register] = str(path)
    return states


def _run_agent(path: str, seed: int, outcome: Outcome) -> Outcome:
    """`portal-agent sync`, `sell --count N --offline`, `upload --batch-size B`, as the CLI does."""

    def timed(response: httpx.Response) -> None:
        endpoint = _endpoint(response.request)
        try:
            # The whole body, so a download counts until its last byte; `elapsed` is set then.
            response.read()
        except httpx.TransportError as error:
            outcome.errors.append(f"{endpoint}: {type(error).__name__} {error}")
            raise
        outcome.latencies.setdefault(endpoint, []).append(response.elapsed.total_seconds())
        if response.status_code >= 400:
            outcome.errors.append(f"{endpoint}: HTTP {response.status_code} {response.text[:200]}")

    state = LocalState(path)
    try:
        settings = state.activated()

        def connect() -> PortalClient:
            return PortalClient(
                settings["url"],
                settings["token"],
                transport=_CountingTransport(outcome),
                event_hooks={"response": [timed]},
            )

        with connect() as client:
            sync.sync(client, state, _quiet)
            sync.heartbeat(client, state)
        sales.sell(state, SALES_PER_AGENT, offline=True, seed=seed)
        with connect() as client:
            counts = uploads.upload(client, state, _quiet, BATCH)
            sync.heartbeat(client, state)
        if counts["rejected"] or counts["conflict"] or counts["set_aside"]:
            outcome.errors.append(f"{path}: HQ refused or failed on sales: {counts}")
    except AgentError as error:
        outcome.errors.append(f"{path}: {error.message}")
    except Exception as error:  # anything else an agent would die of counts as well
        outcome.errors.append(f"{path}: {type(error).__name__}: {error}")
    finally:
        state.close()
    return outcome


class _CountingTransport(httpx.HTTPTransport):
    """Records transport failures, which the agent's retries would otherwise hide."""

    def __init__(self, outcome: Outcome):
        super().__init__()
        self.outcome = outcome

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.TransportError as error:
            self.outcome.errors.append(f"{_endpoint(request)}: {type(error).__name__} {error}")
            raise


def _endpoint(request: httpx.Request) -> str:
    path = request.url.path.removeprefix(API_PATH)
    return f"{request.method} {_ID.sub('/{id}', path)}"


def _quiet(_line: str) -> None:
    """The agent's progress lines: not wanted hundreds of times over."""


def _drive(agents: list[tuple[str, int]]) -> tuple[list[Outcome], float]:
    """Run every agent at once; returns their outcomes and the seconds from start to last end."""
    # Spawned, not forked: the parent holds database connections a child must not share.
    context = multiprocessing.get_context("spawn")
    count = min(PROCESSES, max(1, len(agents) // AGENTS_PER_PROCESS))
    barrier = context.Barrier(len(agents))
    results = context.Queue()
    processes = [
        context.Process(target=_agent_process, args=(agents[n::count], barrier, results))
        for n in range(count)
    ]
    outcomes: list[Outcome] = []
    try:
        for process in processes:
            process.start()
        received = 0
        while received < count:
            try:
                outcomes += results.get(timeout=5)
                received += 1
            except queue.Empty:
                # A process that died (at import, say) would leave the others at the barrier.
                if any(p.exitcode not in (None, 0) for p in processes):
                    raise SystemExit("device load: an agent process died") from None
        for process in processes:
            process.join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
    ran = [o for o in outcomes if o.started]
    seconds = max(o.finished for o in ran) - min(o.started for o in ran) if ran else 0.0
    return outcomes, seconds


def _agent_process(agents: list[tuple[str, int]], barrier, results) -> None:
    """One process's share of the agents, a thread each, released together with all others."""
    outcomes = [Outcome() for _ in agents]

    def run(index: int) -> None:
        outcome = outcomes[index]
        try:
            barrier.wait(timeout=START_TIMEOUT)
        except threading.BrokenBarrierError:
            outcome.errors.append(f"{agents[index][0]}: not all agents were ready together")
            return
        outcome.started = time.time()
        _run_agent(*agents[index], outcome)
        outcome.finished = time.time()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(agents))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(outcomes)


def _check_database(registers: list[str]) -> list[str]:
    """Every sale stored once, every package of every agent applied."""
    db.session.commit()
    problems = []
    stored, distinct = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(PosTransaction.transaction_id)))
    ).one()
    expected = len(registers) * SALES_PER_AGENT
    if not stored == distinct == expected:
        problems.append(f"{stored} sales stored, {distinct} distinct, {expected} sold")
    per_register = dict(
        db.session.execute(
            sa.select(Register.register_number, sa.func.count())
            .join(PosTransaction, PosTransaction.register_id == Register.id)
            .group_by(Register.register_number)
        ).all()
    )
    short = {r: per_register.get(r, 0) for r in registers if per_register.get(r) != SALES_PER_AGENT}
    if short:
        problems.append(f"registers without exactly {SALES_PER_AGENT} sales: {short}")
    statuses = dict(
        db.session.execute(
            sa.select(DownloadSession.status, sa.func.count())
            .join(ChannelDatabase, ChannelDatabase.id == DownloadSession.channel_database_id)
            .where(ChannelDatabase.kind == OFFLINE, DownloadSession.package_id.is_not(None))
            .group_by(DownloadSession.status)
        ).all()
    )
    if statuses != {SESSION_APPLIED: len(registers) * PACKAGES}:
        problems.append(f"packages of the registers by status: {statuses}")
    return problems


def _merged(outcomes: list[Outcome]) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for outcome in outcomes:
        for endpoint, seconds in outcome.latencies.items():
            merged.setdefault(endpoint, []).extend(seconds)
    return merged


def _rows(agents: int, load: tuple, alone: tuple) -> list[tuple]:
    """A row per endpoint (p99 under load against alone), and one for the whole load."""
    (latencies, seconds), (alone_latencies, alone_seconds) = load, alone
    label = f"device API under load, {agents} agents"
    rows = []
    for endpoint in ENDPOINTS:
        ours = percentile(latencies[endpoint], 0.99)
        baseline = percentile(alone_latencies[endpoint], 0.99)
        rows.append(
            (
                f"{label}: p99 {endpoint}",
                ms(ours),
                f"{ms(baseline)} (one agent alone)",
                f"{ours / baseline:.2f}",
                "no errors",
            )
        )
    requests = sum(map(len, latencies.values()))
    rate = requests / seconds
    alone_rate = sum(map(len, alone_latencies.values())) / alone_seconds
    rows.append(
        (
            f"{label}: requests, errors, throughput ({agents * SALES_PER_AGENT:,} sales uploaded)",
            f"{requests:,} requests in {seconds:.1f} s, 0 errors: {rate:,.0f} requests/s",
            f"{alone_rate:,.0f} requests/s (one agent alone)",
            f"{rate / alone_rate:.2f}",
            "0 errors",
        )
    )
    return rows
