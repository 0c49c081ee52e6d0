"""`portal-agent run` against a live portal behind a link that can be cut: the profile followed.

The loop's clock is a manual one (its sleeps pass at once); requests are real, over a real TCP
proxy, and a cut link makes them time out for real, after the profile's time-out times the
test's time scale.
"""

import json
import threading

import httpx
import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from portal.agent import mode
from portal.agent.client import PortalClient
from portal.agent.clock import ManualClock
from portal.agent.cutoff import CutOff
from portal.agent.local import LocalState
from portal.agent.run import Register
from portal.core.extensions import db
from portal.device_api.models import DeviceStatus
from portal.distribution.models import SESSION_AVAILABLE, DownloadSession
from portal.setup.offline_profiles import services as offline_profiles
from portal.transactions.models import STATEMENT_RECONCILED, PosTransaction, ShiftStatement
from tests.agent.portal import change_master_data, database_named, run_every_schedule

# The profile's 30 s time-out lasts 0.6 s; its 5-minute intervals 6 s of the manual clock.
SCALE = 0.02
RECONNECT_S = 5 * 60 * SCALE
# One sale a second of the manual clock.
PER_MINUTE = 60


@pytest.fixture
def link(live_url):
    """A cuttable link to the live portal."""
    with CutOff(live_url) as proxy:
        yield proxy


@pytest.fixture
def register(agent, activated, link):
    """SEATTLE-1's agent, activated and synced, as a loop on a manual clock through `link`."""
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    state = LocalState(agent.state_file)
    token = state.get("token")
    loop = Register(
        state,
        lambda timeout: PortalClient(link.url, token, timeout=timeout, retries=0),
        clock=ManualClock(),
        sales_per_minute=PER_MINUTE,
        time_scale=SCALE,
        say=lambda _: None,
        seed=7,
    )
    yield loop
    state.close()


def device() -> DeviceStatus:
    """What HQ keeps of SEATTLE-1's device."""
    db.session.expire_all()
    return db.session.get(DeviceStatus, database_named("SEATTLE-1").id)


def received() -> list[PosTransaction]:
    """The sales HQ stored for SEATTLE-1, in sequence."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(PosTransaction).order_by(PosTransaction.sequence)))


def test_a_timeout_switches_offline_and_the_sale_completes_there(register, link):
    tally = register.run(count=2)
    assert [sale.offline for sale in received()] == [False, False]
    assert tally.switches == [] and tally.heartbeats >= 1

    link.cut()
    tally = register.run(count=3)

    (switch,) = tally.switches
    assert switch.to == "offline" and "the sale's data request failed" in switch.cause
    assert tally.offline_sales == 3
    assert mode.mode(register.state) == "offline"
    assert register.state.pending_uploads() == 3
    assert "timed out" in register.state.get("last_error")
    assert len(received()) == 2
    # Within the reconnection interval HQ was not tried again: the sale's own request was the
    # one connection the cut link held.
    assert link.held == 1 and tally.failed_reconnects == 0


def test_offline_it_tries_hq_only_after_the_interval_at_the_start_of_a_sale(register, link):
    register.run(count=1)
    link.cut()
    register.run(count=1)
    went_offline = register.tally.switches[0].at
    held = link.held

    register.run(minutes=RECONNECT_S * 2.5 / 60)

    # Two attempts in 2.5 intervals, each at a sale's start, each a connection left hanging.
    assert register.tally.failed_reconnects == 2 == link.held - held
    assert mode.mode(register.state) == "offline"
    assert register.last_attempt - went_offline == pytest.approx(2 * RECONNECT_S, abs=1.0)


def test_back_online_it_uploads_what_it_sold_offline_then_syncs(register, link):
    register.run(count=1)
    link.cut()
    register.run(count=4)
    assert register.state.pending_uploads() == 4
    link.restore()

    register.run(minutes=RECONNECT_S / 60)

    back = register.tally.switches[-1]
    assert back.to == "online" and back.cause == "reconnected" and back.at_sale_start
    assert back.took >= RECONNECT_S
    sales = received()
    assert [s.sequence for s in sales] == list(range(1, len(sales) + 1))
    assert sum(s.offline for s in sales) == register.tally.offline_sales >= 4
    assert register.state.pending_uploads() == 0
    assert device().mode == "online"


def test_the_run_command_sells_uploads_and_says_what_it_did(agent, activated):
    activated("SEATTLE-1")

    code, out, err = agent(
        "run", "--sales", "2", "--sales-per-minute", "600", "--time-scale", "0.02", "--seed", "1"
    )

    assert code == 0, err
    assert "Ran: 2 sale(s), 0 offline; 0 switch(es) to offline" in out
    assert "0 sale(s) waiting for HQ; 0 error(s)" in out
    assert len(received()) == 2
    assert device().mode == "online" and device().database_bytes > 0


@pytest.mark.parametrize(
    "argv",
    [
        ("--sales-per-minute", "0"),
        ("--time-scale", "-1"),
        ("--minutes", "0"),
        ("--sales", "0"),
    ],
)
def test_the_run_command_refuses_bad_input(agent, argv):
    code, _, err = agent("run", *argv)
    assert code == 2 and "must be" in err


def test_disconnect_by_hand_holds_until_connect(agent, register, link):
    register.run(count=1)
    code, out, err = agent("disconnect")
    assert code == 2 and "before sign-in" in err

    register.state.put(signed_in="ana")
    code, out, err = agent("disconnect")
    assert code == 0, err
    assert "Disconnected" in out
    assert device().mode == "offline"

    # Offline by hand: the interval passes many times and HQ is never tried.
    tally = register.run(minutes=RECONNECT_S * 3 / 60)
    assert tally.switches[-1].cause == "switched by hand" and tally.failed_reconnects == 0
    assert register.state.pending_uploads() > 0

    code, out, err = agent("connect")
    assert code == 0, err
    assert "Connected" in out and register.state.pending_uploads() == 0
    assert len(received()) == register.tally.sales


def test_manual_switch_before_sign_in_where_the_profile_allows_it(agent, register, app_ctx):
    profile = offline_profiles.get_profile("Standard offline")
    offline_profiles.update_profile(profile, {"allow_manual_switch_before_sign_in": True})
    db.session.commit()
    assert agent("sync")[0] == 0  # the new profile comes with the configuration

    code, out, err = agent("disconnect")

    assert code == 0, err
    assert mode.manual(register.state)


def test_paused_sync_downloads_nothing_and_says_so(agent, register, app_ctx):
    change_master_data()
    run_every_schedule()
    profile = offline_profiles.get_profile("Standard offline")
    offline_profiles.update_profile(profile, {"pause_sync": True})
    db.session.commit()

    tally = register.run(count=3)

    assert tally.packages_applied == 0 and tally.heartbeats >= 1
    waiting = db.session.scalars(
        sa.select(DownloadSession).where(
            DownloadSession.channel_database_id == database_named("SEATTLE-1").id,
            DownloadSession.status == SESSION_AVAILABLE,
        )
    ).all()
    assert waiting, "the packages built before the pause are still there, not downloaded"
    assert device().sync_paused is True
    code, out, _ = agent("sync")
    assert code == 0 and "Offline synchronization is paused" in out


def test_without_an_upload_scope_for_sales_the_sales_stay_and_hq_sees_them_waiting(
    agent, register, app_ctx
):
    profile = offline_profiles.get_profile("Standard offline")
    downloads = [s for s in offline_profiles.default_scopes() if s["direction"] == "download"]
    offline_profiles.update_profile(profile, {"scopes": downloads})
    db.session.commit()

    tally = register.run(count=3)

    assert tally.sales == 3 and tally.errors == [] and received() == []
    assert agent("status")[0] == 0  # a heartbeat
    assert device().pending_uploads == 3
    code, _, err = agent("upload")
    assert code == 2 and "no upload scope for sales" in err


class AsksForUploads:
    """In front of the portal: every heartbeat answer also says `"upload_requested": true`."""

    def __init__(self, upstream: str):
        self.http = httpx.Client(base_url=upstream)

    def __call__(self, environ, start_response):
        request = Request(environ)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization",)}
        answer = self.http.request(
            request.method,
            request.full_path if request.query_string else request.path,
            content=request.get_data(),
            headers={**headers, "Content-Type": request.content_type or "application/json"},
        )
        body = answer.content
        if request.path.endswith("/device/status") and answer.status_code == 200:
            body = json.dumps({**answer.json(), "upload_requested": True}).encode()
        response = Response(body, answer.status_code, content_type=answer.headers["content-type"])
        return response(environ, start_response)


def test_a_heartbeat_answer_asking_for_uploads_uploads_at_once(agent, activated, live_url):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    server = make_server("127.0.0.1", 0, AsksForUploads(live_url), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = LocalState(agent.state_file)
    try:
        url, token = f"http://127.0.0.1:{server.server_port}", state.get("token")
        # One sale every 100 minutes: between the first and the next, only check-ins happen.
        loop = Register(
            state,
            lambda timeout: PortalClient(url, token, timeout=timeout, retries=0),
            clock=ManualClock(),
            sales_per_minute=0.01,
            time_scale=SCALE,
            say=lambda _: None,
        )
        loop.run(count=1)
        assert agent("sell", "--count", "3")[0] == 0  # sold meanwhile, not uploaded yet
        assert state.pending_uploads() == 3

        tally = loop.run(minutes=RECONNECT_S * 1.5 / 60)

        assert tally.sales == 1 and tally.upload_requests >= 1
        assert state.pending_uploads() == 0 and len(received()) == 4
    finally:
        state.close()
        server.shutdown()
        thread.join(timeout=10)


def test_shifts_close_on_time_and_one_closed_offline_reaches_hq_once_back(register, link):
    # A shift of three sales of the manual clock (one sale a second).
    register.shift_length = 3.0
    register.run(count=1)
    link.cut()
    register.run(count=3)
    assert register.tally.shifts_closed == 1
    assert not db.session.scalars(sa.select(ShiftStatement)).all()
    link.restore()

    register.run(minutes=RECONNECT_S / 60)

    db.session.expire_all()
    statements = db.session.scalars(sa.select(ShiftStatement).order_by(ShiftStatement.id)).all()
    assert len(statements) == register.tally.shifts_closed >= 2
    first = statements[0]
    assert (first.first_sequence, first.last_sequence) == (1, 3)
    assert {s.state for s in statements} == {STATEMENT_RECONCILED}
    assert [s.previous_hash for s in statements[1:]] == [s.statement_hash for s in statements[:-1]]
