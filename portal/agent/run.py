"""`run`: a register living through its day as its offline profile says.

It sells at a steady rate. Online, each sale starts with a data request to HQ (its setup and
prices, `GET /config`) and ends by uploading what is pending; every health-check interval it
sends a heartbeat and applies the available packages (none while the profile pauses
synchronization). A request that does not succeed within the profile's time-out (no answer, a
5xx) switches it to its offline database: the sale in progress completes there, and it keeps
selling offline. Offline, it tries HQ again only at the start of a sale, and only once the
reconnection interval has passed since it went offline or last tried; back online it uploads
what it sold offline, then syncs, then tells HQ with a heartbeat. A register switched offline
by hand (operation 917, `portal-agent disconnect`) stays offline until `connect`.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from portal.agent import mode, sales, shifts, sync
from portal.agent import upload as uploads
from portal.agent.client import PortalClient
from portal.agent.clock import Clock
from portal.agent.errors import AgentError, PortalUnreachable, Unauthorized
from portal.agent.local import SET_ASIDE, LocalState, now_iso

Say = Callable[[str], None]
ClientFactory = Callable[[float], PortalClient]


@dataclass(frozen=True)
class Switch:
    """One change of mode, as the loop saw it."""

    to: str  # "offline" or "online"
    at: float  # the loop's clock
    wall: str  # ISO 8601, UTC
    cause: str
    # Offline: how long the failing request took (real seconds). Online: how long the
    # register had been offline (the loop's clock).
    took: float | None = None
    at_sale_start: bool = False


@dataclass
class Tally:
    """What one run did."""

    sales: int = 0
    offline_sales: int = 0
    packages_applied: int = 0
    heartbeats: int = 0
    failed_reconnects: int = 0
    upload_requests: int = 0
    shifts_closed: int = 0
    switches: list[Switch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Register:
    """The loop of one register (or store database) against HQ."""

    def __init__(
        self,
        state: LocalState,
        make_client: ClientFactory,
        *,
        clock: Clock | None = None,
        sales_per_minute: float = 10.0,
        time_scale: float = 1.0,
        say: Say = print,
        seed: int | None = None,
        staff: str = "portal-agent run",
        shift_minutes: float | None = None,
    ):
        self.state = state
        self.make_client = make_client
        self.clock = clock or Clock()
        self.period = 60.0 / sales_per_minute
        self.time_scale = time_scale
        self.say = say
        self.rng = random.Random(seed)
        self.staff = staff
        self.tally = Tally()
        self.client: PortalClient | None = None
        self.last_answer = 0.0
        self.timing = mode.Timing.of(state, time_scale)
        self.seen_mode = mode.mode(state)
        self.offline_at = self.clock.now()
        self.last_attempt = self.offline_at
        self.next_sale: float | None = None
        self.next_check = 0.0
        # A shift closes (its statement, the Z report) this often, time-scaled like the profile.
        self.shift_length = shift_minutes * 60 * time_scale if shift_minutes else None
        self.next_close: float | None = None

    # The loop -----------------------------------------------------------------------------

    def run(
        self,
        minutes: float | None = None,
        count: int | None = None,
        stop: threading.Event | None = None,
    ) -> Tally:
        """Sell for `minutes` of the clock, or `count` more sales, or until `stop` is set."""
        self.state.activated()
        # Signed in while the loop runs: operation 917 is then allowed whatever the profile.
        self.state.put(signed_in=self.staff)
        self._open_client()
        try:
            start = self.clock.now()
            if self.next_sale is None:
                # The day starts: catch up with HQ, then the first sale and check-in are due.
                if mode.mode(self.state) == mode.ONLINE:
                    self._back_online()
                self.next_sale = start
                self.next_check = start + self.timing.health_check_interval
            if self.shift_length and self.next_close is None:
                self.next_close = start + self.shift_length
            target = None if count is None else self.tally.sales + count
            end = None if minutes is None else start + minutes * 60
            while not (stop is not None and stop.is_set()):
                if target is not None and self.tally.sales >= target:
                    break
                self._follow_hand_switches()
                online = mode.mode(self.state) == mode.ONLINE
                due = min(self.next_sale, self.next_check) if online else self.next_sale
                if self.next_close is not None:
                    due = min(due, self.next_close)
                if end is not None and due >= end:
                    self.clock.sleep(end - self.clock.now(), stop)
                    break
                self.clock.sleep(due - self.clock.now(), stop)
                if stop is not None and stop.is_set():
                    break
                now = self.clock.now()
                if online and now >= self.next_check:
                    self._check_in()
                    self.next_check = now + self.timing.health_check_interval
                if self.next_close is not None and now >= self.next_close:
                    self._close_shift()
                    self.next_close = now + self.shift_length
                if now >= self.next_sale:
                    self._sale()
                    self.next_sale = max(self.next_sale + self.period, now)
        finally:
            self.state.put(signed_in=None)
            if self.client is not None:
                self.client.close()
        return self.tally

    def _sale(self) -> None:
        """One sale: reconnect first if it is time, ask HQ while online, record, upload."""
        now = self.clock.now()
        if mode.mode(self.state) == mode.OFFLINE and self._reconnect_due(now):
            self.last_attempt = now
            reached, _ = self._attempt("a reconnection attempt", self._fetch_config)
            if reached and mode.go_online(self.state):
                self._switched(mode.ONLINE, "reconnected", now - self.offline_at, True)
                self._back_online()
            elif not reached:
                self.tally.failed_reconnects += 1
        if mode.mode(self.state) == mode.ONLINE:
            # The sale's data request: a time-out here switches the sale to the offline database.
            self._attempt("the sale's data request", self._fetch_config)
        offline = mode.mode(self.state) == mode.OFFLINE
        try:
            sales.sell(self.state, 1, offline, seed=self.rng.randrange(2**32))
        except AgentError as error:
            self._error(f"Could not record a sale: {error.message}")
            return
        self.tally.sales += 1
        self.tally.offline_sales += offline
        if not offline:
            self._upload()

    def _close_shift(self) -> None:
        """Close the shift: its statement is kept here and sent now, or once HQ is back."""
        try:
            shifts.record_statement(self.state)
        except AgentError as error:
            self.say(f"No shift closed: {error.message}")
            return
        self.tally.shifts_closed += 1
        if mode.mode(self.state) == mode.ONLINE:
            self._send_statements()

    def _send_statements(self) -> None:
        self._attempt("a shift statement", lambda: shifts.send_statements(self.client, self.state))

    def _reconnect_due(self, now: float) -> bool:
        if mode.manual(self.state):
            return False
        interval = self.timing.reconnect_interval
        return now - self.offline_at >= interval and now - self.last_attempt >= interval

    def _check_in(self) -> None:
        """The health check: a heartbeat (uploading now if HQ asks), then the packages."""
        self._heartbeat()
        if mode.mode(self.state) == mode.ONLINE:
            self._sync()

    def _back_online(self) -> None:
        """Upload what was sold offline and the shifts closed meanwhile, sync, then tell HQ."""
        self._upload()
        if mode.mode(self.state) == mode.ONLINE:
            self._send_statements()
        if mode.mode(self.state) == mode.ONLINE:
            self._sync()
        if mode.mode(self.state) == mode.ONLINE:
            self._heartbeat()

    def _follow_hand_switches(self) -> None:
        """Notice `disconnect` or `connect` typed in another terminal since the last look."""
        now_mode = mode.mode(self.state)
        if now_mode == self.seen_mode:
            return
        self.seen_mode = now_mode
        if now_mode == mode.OFFLINE:
            self.offline_at = self.last_attempt = self.clock.now()
            self._record(mode.OFFLINE, "switched by hand")
        else:
            self._record(mode.ONLINE, "connected by hand", self.clock.now() - self.offline_at)
            self._back_online()

    # Work against HQ ------------------------------------------------------------------------

    def _fetch_config(self) -> None:
        sync.fetch_config(self.client, self.state)
        timing = mode.Timing.of(self.state, self.time_scale)
        if timing != self.timing:
            self.timing = timing
            self._open_client()

    def _upload(self) -> None:
        if not self.state.pending_uploads():
            return
        if not mode.uploads_sales(self.state):
            return  # the profile has no upload scope for sales: they stay here, counted
        reached, counts = self._attempt(
            "an upload", lambda: uploads.upload(self.client, self.state, lambda _: None)
        )
        if reached and counts:
            refused = counts["rejected"] + counts["conflict"] + counts[SET_ASIDE]
            if refused:
                self._error(f"HQ refused {refused} sale(s); 'status' lists them.")

    def _sync(self) -> None:
        reached, applied = self._attempt(
            "a sync", lambda: sync.sync(self.client, self.state, lambda _: None)
        )
        if reached and applied:
            self.tally.packages_applied += applied

    def _heartbeat(self) -> None:
        reached, answer = self._attempt(
            "a heartbeat", lambda: sync.heartbeat(self.client, self.state)
        )
        if not reached:
            return
        self.tally.heartbeats += 1
        if (answer or {}).get("upload_requested"):
            self.tally.upload_requests += 1
            self._upload()

    def _attempt(self, what: str, work: Callable[[], object]) -> tuple[bool, object]:
        """Do a piece of work against HQ; (whether HQ was reached, its result).

        HQ not answering in time (or failing with a 5xx) switches the register offline; a
        refusal is noted as the last error. Refused credentials end the run.
        """
        started = time.perf_counter()
        try:
            return True, work()
        except Unauthorized:
            raise
        except PortalUnreachable as error:
            took = time.perf_counter() - max(started, self.last_answer)
            mode.note_error(self.state, f"{what}: {error.message}")
            if mode.go_offline(self.state):
                self.offline_at = self.last_attempt = self.clock.now()
                self.seen_mode = mode.OFFLINE
                self._switched(mode.OFFLINE, f"{what} failed: {error.message}", took)
            return False, None
        except AgentError as error:
            self._error(f"{what}: {error.message}")
            return True, None

    # Bookkeeping ----------------------------------------------------------------------------

    def _open_client(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = self.make_client(self.timing.offline_timeout)
        # The time a failing request took counts from HQ's last answer, not from the start of
        # a longer piece of work (a sync of several packages) that it ended.
        self.client.http.event_hooks["response"].append(self._answered)

    def _answered(self, _response) -> None:
        self.last_answer = time.perf_counter()

    def _switched(self, to: str, cause: str, took: float | None, at_sale_start=False) -> None:
        self.seen_mode = to
        self._record(to, cause, took, at_sale_start)

    def _record(self, to: str, cause: str, took: float | None = None, at_sale_start=False):
        switch = Switch(to, self.clock.now(), now_iso(), cause, took, at_sale_start)
        self.tally.switches.append(switch)
        self.say(f"{switch.wall} {to.capitalize()}: {cause}.")

    def _error(self, message: str) -> None:
        mode.note_error(self.state, message)
        self.tally.errors.append(message)
        self.say(f"Error: {message}")
