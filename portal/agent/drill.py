"""`drill`: a chain of registers living through outages, then checked against HQ.

It sets up its own stores and registers through HQ's API (like an existing store, in its
channel data group, with an offline profile of its own), activates an agent for each register
and lets them all sell at once, each through its own cuttable link (`cutoff.py`). Chosen
registers lose HQ for a span, so their real time-outs and reconnections fire. At the end every
register connects and uploads what is left, and the drill asks HQ's API for what it received:
each sale made must be there exactly once. The report says so, with the longest time from sale
to HQ, the switches per register (each checked against the profile), packages applied and
errors; the exit code is 1 on any loss, duplicate, error or switch out of bounds.
"""

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from portal.agent import mode, sales, sync
from portal.agent import upload as uploads
from portal.agent.client import PortalClient
from portal.agent.cutoff import CutOff
from portal.agent.drill_report import RegisterLine, Report, out_of_bounds, seconds
from portal.agent.errors import AgentError, UsageError
from portal.agent.local import LocalState, now_iso
from portal.agent.run import Register, Tally

API = "/api/v1"


class DrillError(AgentError):
    """HQ's API refused or failed a step of the drill's setup or check."""


@dataclass
class Plan:
    """What the drill plays: its size, pace, profile and outages."""

    stores: int = 2
    registers: int = 2
    minutes: float = 1.0
    sales_per_minute: float = 6.0
    time_scale: float = 0.02
    offline_timeout_s: int = 30
    reconnect_interval_min: int = 1
    health_check_interval_min: int = 1
    cut_share: float = 0.5
    cut_seconds: float | None = None
    seed: int | None = None
    setup_minutes: float = 5.0


@dataclass
class Agent:
    """One register of the drill: its agent, its link to HQ, what it did."""

    number: str
    state: LocalState
    link: CutOff
    loop: Register | None = None
    cuts: list[tuple[float, float]] = field(default_factory=list)
    applied_at_setup: int = 0
    failure: str | None = None


class Hq:
    """HQ's JSON API with an API token."""

    def __init__(self, url: str, token: str):
        self.http = httpx.Client(
            base_url=url.rstrip("/") + API,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )

    def call(self, method: str, path: str, **kwargs) -> dict:
        """One request; a refusal is a DrillError with HQ's message."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise DrillError(f"Cannot reach HQ's API for {method} {path}: {error}") from None
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise DrillError(f"HQ refused {method} {path} ({response.status_code}): {message}")
        return response.json()

    def every(self, path: str, params: dict) -> list[dict]:
        """Every item of a list, page by page."""
        items: list[dict] = []
        params = {**params, "limit": 200}
        while True:
            page = self.call("GET", path, params=params)
            items += page["items"]
            if not page.get("next"):
                return items
            params["cursor"] = page["next"]

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


class Drill:
    """Set up, play and check one drill."""

    def __init__(self, url: str, token: str, plan: Plan, folder: Path, say=print):
        self.url = url.rstrip("/")
        self.hq = Hq(self.url, token)
        self.plan = plan
        self.folder = folder
        self.say = say
        self.rng = random.Random(plan.seed)
        self.name = f"DRILL{uuid.uuid4().hex[:5].upper()}"
        self.agents: list[Agent] = []
        self.errors: list[str] = []

    # Setup ------------------------------------------------------------------------------------

    def set_up(self) -> None:
        """Stores, registers and a profile at HQ; an activated, synced agent per register."""
        like = self._model_store()
        self.hq.call(
            "POST",
            "/offline-profiles",
            json={
                "name": self.name,
                "offline_timeout_s": self.plan.offline_timeout_s,
                "reconnect_interval_min": self.plan.reconnect_interval_min,
                "health_check_interval_min": self.plan.health_check_interval_min,
            },
        )
        settings = {
            key: like.get(key)
            for key in ("currency", "tax_group", "time_zone", "price_group", "assortment")
        }
        for s in range(1, self.plan.stores + 1):
            store = f"{self.name}-{s:03d}"
            self.hq.call(
                "POST",
                "/stores",
                json={
                    **settings,
                    "store_number": store,
                    "name": f"Drill store {s}",
                    "channel_data_group": like["channel_data_group"],
                    "offline_profile": self.name,
                },
            )
            for r in range(1, self.plan.registers + 1):
                self._add_register(f"{store}-{r}", store)
        self.say(
            f"Set up {self.plan.stores} store(s) x {self.plan.registers} register(s) like store "
            f"{like['store_number']}, offline profile {self.name}; waiting for their packages."
        )
        self._wait_for_packages()

    def _model_store(self) -> dict:
        stores = self.hq.call("GET", "/stores", params={"limit": 1})["items"]
        if not stores or not stores[0].get("channel_data_group"):
            raise DrillError(
                "HQ has no store in a channel data group to copy: set one up first (the demo "
                "data has HOUSTON)."
            )
        return stores[0]

    def _add_register(self, number: str, store: str) -> None:
        created = self.hq.call(
            "POST",
            "/registers",
            json={"register_number": number, "store": store, "support_offline": True},
        )
        database = created["offline_database"]
        code = self.hq.call("POST", f"/channel-databases/{database['id']}/activation-code")
        # Each register reaches HQ from its own loopback address, as registers in different
        # stores do, so HQ's per-address limits see registers, not the drill.
        index = len(self.agents) + 2
        source = f"127.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
        link = CutOff(self.url, source=source)
        state = LocalState(self.folder / f"{number}.sqlite")
        agent = Agent(number, state, link)
        self.agents.append(agent)
        with PortalClient(link.url, retries=5, backoff=0.2) as client:
            answer = client.call(
                "POST",
                "/activate",
                json={"database": database["id"], "activation_code": code["activation_code"]},
                idempotent=False,
            )
        state.put(
            url=link.url,
            token=answer["device_token"],
            database=answer["channel_database"],
            activated_at=now_iso(),
        )

    def _wait_for_packages(self) -> None:
        deadline = time.monotonic() + self.plan.setup_minutes * 60
        waiting = list(self.agents)
        while waiting:
            for agent in list(waiting):
                with self._client(agent, 30.0) as client:
                    agent.applied_at_setup += sync.sync(client, agent.state, lambda _: None)
                if sales.Catalogue(agent.state, date.today()).products:
                    waiting.remove(agent)
            if waiting and time.monotonic() > deadline:
                raise DrillError(
                    f"{len(waiting)} register(s) got nothing to sell within "
                    f"{self.plan.setup_minutes:g} minute(s) (first: {waiting[0].number}); is a "
                    "worker running to build their packages?"
                )
            if waiting:
                time.sleep(0.5)

    def _client(self, agent: Agent, timeout: float) -> PortalClient:
        return PortalClient(agent.link.url, agent.state.get("token"), timeout=timeout, retries=0)

    # Play -------------------------------------------------------------------------------------

    def play(self) -> None:
        """Every register sells for the drill's minutes; the chosen ones lose HQ for a while."""
        span = self.plan.minutes * 60
        cut = self.plan.cut_seconds or self._default_cut()
        chosen = self.rng.sample(self.agents, round(len(self.agents) * self.plan.cut_share))
        for agent in chosen:
            start = self.rng.uniform(0.1 * span, max(0.1 * span, 0.9 * span - cut * 1.0))
            agent.cuts.append((start, min(start + cut, span)))
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=self._sell,
                args=(agent, stop, self.rng.randrange(2**32)),
                name=agent.number,
            )
            for agent in self.agents
        ]
        cutter = threading.Thread(target=self._cut, args=(stop,), name="cutter")
        self.started = time.monotonic()
        for thread in [*threads, cutter]:
            thread.start()
        self.say(
            f"Selling for {self.plan.minutes:g} minute(s) on {len(self.agents)} register(s); "
            f"{len(chosen)} of them lose HQ for {cut:.1f} s each."
        )
        try:
            stop.wait(span)
        finally:
            stop.set()
            for thread in [*threads, cutter]:
                thread.join()
            for agent in self.agents:
                agent.link.restore()

    def _default_cut(self) -> float:
        """Long enough to switch and to try reconnecting at least once, within the drill."""
        reconnect = self.plan.reconnect_interval_min * 60 * self.plan.time_scale
        timeout = self.plan.offline_timeout_s * self.plan.time_scale
        return min(self.plan.minutes * 60 * 0.4, 1.5 * reconnect + timeout + 1)

    def _sell(self, agent: Agent, stop: threading.Event, seed: int) -> None:
        try:
            agent.loop = Register(
                agent.state,
                lambda timeout: self._client(agent, timeout),
                sales_per_minute=self.plan.sales_per_minute,
                time_scale=self.plan.time_scale,
                say=lambda _: None,
                seed=seed,
                staff="drill",
            )
            agent.loop.run(stop=stop)
        except Exception as error:  # a register that dies is a finding, not the drill's end
            agent.failure = f"{type(error).__name__}: {error}"

    def _cut(self, stop: threading.Event) -> None:
        events = sorted(
            [(start, "cut", agent) for agent in self.agents for start, _ in agent.cuts]
            + [(end, "restore", agent) for agent in self.agents for _, end in agent.cuts],
            key=lambda event: event[0],
        )
        for at, action, agent in events:
            if stop.wait(max(0.0, self.started + at - time.monotonic())):
                return
            getattr(agent.link, action)()

    def finish(self) -> None:
        """Every register connects and uploads what it has left, as at the end of a day."""
        for agent in self.agents:
            with self._client(agent, 60.0) as client:
                try:
                    sync.fetch_config(client, agent.state)
                    mode.go_online(agent.state)
                    if agent.state.pending_uploads():
                        uploads.upload(client, agent.state, lambda _: None)
                    sync.heartbeat(client, agent.state)
                except AgentError as error:
                    self.errors.append(f"{agent.number}: final upload: {error.message}")

    # Check ------------------------------------------------------------------------------------

    def check(self) -> Report:
        """Compare what every register made with what HQ received."""
        report = Report()
        timing = mode.Timing.of(self.agents[0].state, self.plan.time_scale)
        for agent in self.agents:
            made = {
                row[0]: row[1]
                for row in agent.state.conn.execute(
                    "SELECT transaction_id, created_at FROM agent_transaction"
                )
            }
            got = self.hq.every("/transactions", {"register": agent.number})
            counts = Counter(item["transaction_id"] for item in got)
            tally = agent.loop.tally if agent.loop else Tally()
            line = RegisterLine(
                number=agent.number,
                made=len(made),
                received=len(got),
                missing=sorted(set(made) - set(counts)),
                duplicates=sorted(tid for tid, n in counts.items() if n > 1),
                unknown=sorted(set(counts) - set(made)),
                offline_sales=tally.offline_sales,
                to_offline=sum(s.to == mode.OFFLINE for s in tally.switches),
                back_online=sum(s.to == mode.ONLINE for s in tally.switches),
                cut=len(agent.cuts),
                packages=agent.applied_at_setup + tally.packages_applied,
                errors=[
                    *tally.errors,
                    *([agent.failure] if agent.failure else []),
                    *(["it made no sale"] if not made else []),
                ],
                out_of_bounds=out_of_bounds(tally, timing),
            )
            for item in got:
                delay = seconds(item["received_at"]) - seconds(item["created_at"])
                report.longest_to_hq = max(report.longest_to_hq, delay)
            report.registers.append(line)
        report.errors = list(self.errors)
        return report

    def close(self) -> None:
        """Close the links, the agents' files and the API client."""
        for agent in self.agents:
            agent.link.close()
            agent.state.close()
        self.hq.close()


def check_plan(plan: Plan, url: str) -> None:
    """Refuse a plan that cannot run, before anything is set up at HQ."""
    if plan.stores < 1 or plan.registers < 1:
        raise UsageError("--stores and --registers must be at least 1.")
    if plan.stores * plan.registers > 60000:
        raise UsageError("At most 60,000 registers: each needs a loopback address of its own.")
    if plan.minutes <= 0 or plan.sales_per_minute <= 0 or plan.time_scale <= 0:
        raise UsageError("--minutes, --sales-per-minute and --time-scale must be positive.")
    if not 0 <= plan.cut_share <= 1:
        raise UsageError("--cut-share is a share of the registers, from 0 to 1.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--url must be the portal's http(s) address, not {url!r}.")
