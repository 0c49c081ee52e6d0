"""The register's commands: `run`, operation 917's `disconnect` and `connect`, and `drill`.

Kept apart from the one-shot commands of `cli.py`; `cli.build_parser` adds them.
"""

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from portal.agent import drill, mode, run, sync
from portal.agent import upload as uploads
from portal.agent.client import PortalClient
from portal.agent.errors import EXIT_FAILED, AgentError, PortalUnreachable, UsageError
from portal.agent.local import LocalState

DeviceClient = Callable[..., PortalClient]


def add_commands(commands, device_client: DeviceClient) -> None:
    """Add `run`, `disconnect` and `connect` to the command line."""
    loop = commands.add_parser(
        "run", help="sell, sync, report and upload as the offline profile says, until stopped"
    )
    loop.add_argument("--sales-per-minute", type=float, default=10.0, help="the selling rate")
    loop.add_argument("--minutes", type=float, help="stop after this long (default: Ctrl-C)")
    loop.add_argument("--sales", type=int, help="stop after this many sales")
    loop.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply the profile's time-out and intervals by this (0.01: a minute lasts 0.6 s)",
    )
    loop.add_argument("--seed", type=int, help="make the choice of products repeatable")
    loop.add_argument("--staff", default="portal-agent run", help="who is signed in")
    loop.add_argument(
        "--shift-minutes",
        type=float,
        help="close a shift (its statement to HQ) this often, time-scaled like the profile",
    )
    loop.set_defaults(command=run_loop, device_client=device_client)

    disconnect = commands.add_parser(
        "disconnect", help="operation 917: switch to the offline database by hand"
    )
    disconnect.set_defaults(command=run_disconnect, device_client=device_client)

    connect = commands.add_parser(
        "connect", help="operation 917: connect to HQ again, then upload and sync"
    )
    connect.set_defaults(command=run_connect, device_client=device_client)

    drill = commands.add_parser(
        "drill", help="play a chain of registers through outages against HQ, then check HQ"
    )
    # Also after the command, as `portal-agent drill --url URL ...`; unset, the global one stays.
    drill.add_argument("--url", default=argparse.SUPPRESS, help="the portal's address")
    drill.add_argument(
        "--token", required=True, metavar="HQ_API_TOKEN", help="an HQ API token (admin)"
    )
    drill.add_argument("--stores", type=int, default=2)
    drill.add_argument("--registers", type=int, default=2, help="registers per store")
    drill.add_argument("--minutes", type=float, default=1.0, help="how long they sell")
    drill.add_argument("--sales-per-minute", type=float, default=6.0, help="per register")
    drill.add_argument(
        "--time-scale",
        type=float,
        default=0.02,
        help="multiply the drill profile's time-out and intervals by this",
    )
    drill.add_argument("--offline-timeout", type=int, default=30, help="profile, seconds")
    drill.add_argument("--reconnect-interval", type=int, default=1, help="profile, minutes")
    drill.add_argument("--health-check-interval", type=int, default=1, help="profile, minutes")
    drill.add_argument(
        "--cut-share", type=float, default=0.5, help="share of registers that lose HQ once"
    )
    drill.add_argument("--cut-seconds", type=float, help="how long each loses HQ")
    drill.add_argument("--setup-minutes", type=float, default=5.0, help="wait for packages")
    drill.add_argument("--seed", type=int, help="make the outages repeatable")
    drill.add_argument("--folder", help="keep the agents' files here (default: a temporary one)")
    drill.set_defaults(command=run_drill)


def run_loop(args, state: LocalState) -> int:
    """Run the register until --minutes, --sales or Ctrl-C; print what it did."""
    if args.sales_per_minute <= 0 or args.time_scale <= 0:
        raise UsageError("--sales-per-minute and --time-scale must be positive.")
    if args.shift_minutes is not None and args.shift_minutes <= 0:
        raise UsageError("--shift-minutes must be positive.")
    if (args.minutes is not None and args.minutes <= 0) or (
        args.sales is not None and args.sales < 1
    ):
        raise UsageError("--minutes must be positive and --sales at least 1.")
    state.activated()
    register = run.Register(
        state,
        lambda timeout: loop_client(args, state, timeout),
        sales_per_minute=args.sales_per_minute,
        time_scale=args.time_scale,
        seed=args.seed,
        staff=args.staff,
        shift_minutes=args.shift_minutes,
    )
    try:
        tally = register.run(minutes=args.minutes, count=args.sales)
    except KeyboardInterrupt:
        tally = register.tally
    print(
        f"Ran: {tally.sales} sale(s), {tally.offline_sales} offline; "
        f"{sum(s.to == mode.OFFLINE for s in tally.switches)} switch(es) to offline, "
        f"{sum(s.to == mode.ONLINE for s in tally.switches)} back; "
        f"{tally.packages_applied} package(s) applied; {tally.shifts_closed} shift(s) closed; "
        f"{state.pending_uploads()} sale(s) "
        f"waiting for HQ; {len(tally.errors)} error(s)."
    )
    if not mode.uploads_sales(state):
        print(f"portal-agent: {uploads.NO_UPLOAD_SCOPE}", file=sys.stderr)
    return 0


def loop_client(args, state: LocalState, timeout: float) -> PortalClient:
    """A client that gives up on HQ after the profile's time-out: no retries, no waiting."""
    return PortalClient(state.activated()["url"], state.get("token"), timeout=timeout, retries=0)


def run_disconnect(args, state: LocalState) -> int:
    """Switch to the offline database by hand, if the profile allows it now."""
    state.activated()
    if mode.profile(state) is None:
        raise UsageError(
            "Only a register's offline database switches to offline; this is a store's."
        )
    if not mode.may_switch_by_hand(state):
        name = mode.profile(state).get("name")
        raise UsageError(
            f"The offline profile '{name}' does not allow switching to offline before sign-in: "
            "sign in first (a running 'portal-agent run' is signed in), or ask HQ to allow "
            "'manual switch to offline before sign-in'."
        )
    if not mode.go_offline(state, "Disconnected by hand (operation 917).", by_hand=True):
        print(f"Already offline since {mode.mode_since(state)}; it stays offline until 'connect'.")
        return 0
    _tell_hq(args, state)
    print(
        f"Disconnected: working offline since {mode.mode_since(state)}; sales stay here until "
        "'portal-agent connect'."
    )
    return 0


def run_connect(args, state: LocalState) -> int:
    """Reach HQ again; when it answers, go online, upload what was sold offline, then sync."""
    state.activated()
    timeout = mode.Timing.of(state).offline_timeout
    with loop_client(args, state, timeout) as client:
        try:
            sync.fetch_config(client, state)
        except PortalUnreachable as error:
            mode.note_error(state, error.message)
            raise PortalUnreachable(f"Still offline: {error.message}") from None
        was_offline = mode.go_online(state)
    with args.device_client(args, state) as client:
        if mode.uploads_sales(state):
            counts = uploads.upload(client, state, print)
            print(f"Uploaded: {counts['accepted']} accepted, {counts['duplicate']} duplicate.")
        else:
            print(uploads.NO_UPLOAD_SCOPE)
        applied = sync.sync(client, state, print)
        sync.heartbeat(client, state)
    print(
        f"{'Connected' if was_offline else 'Already online'}: {applied} package(s) applied, "
        f"{state.pending_uploads()} sale(s) waiting for HQ."
    )
    return 0


def _tell_hq(args, state: LocalState) -> None:
    """One heartbeat saying the register is offline now; HQ may be out of reach already."""
    timeout = mode.Timing.of(state).offline_timeout
    try:
        with loop_client(args, state, timeout) as client:
            sync.heartbeat(client, state)
    except AgentError:
        pass


def run_drill(args, _state: LocalState) -> int:
    """Set up, play and check a drill; exit 1 on any loss, duplicate or error."""
    if not args.url:
        raise UsageError("Give the portal's address with --url.")
    plan = drill.Plan(
        stores=args.stores,
        registers=args.registers,
        minutes=args.minutes,
        sales_per_minute=args.sales_per_minute,
        time_scale=args.time_scale,
        offline_timeout_s=args.offline_timeout,
        reconnect_interval_min=args.reconnect_interval,
        health_check_interval_min=args.health_check_interval,
        cut_share=args.cut_share,
        cut_seconds=args.cut_seconds,
        seed=args.seed,
        setup_minutes=args.setup_minutes,
    )
    drill.check_plan(plan, args.url)
    with tempfile.TemporaryDirectory(prefix="portal-drill-") as scratch:
        folder = Path(args.folder or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        play = drill.Drill(args.url, args.token, plan, folder)
        try:
            play.set_up()
            play.play()
            play.finish()
            report = play.check()
        finally:
            play.close()
    for line in report.lines():
        print(line)
    return 0 if report.ok else EXIT_FAILED
