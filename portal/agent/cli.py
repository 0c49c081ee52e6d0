"""`portal-agent`: a store server or register against a running portal, for demos, tests and load.

    portal-agent --url URL activate --database HOUSTON-1 --code ABCD-EFGH-JKMN
    portal-agent sync
    portal-agent sell --count 10 --offline [--skip 1]
    portal-agent upload
    portal-agent resend HOUSTON-1-000003 [--changed]
    portal-agent close-shift [--register HOUSTON-1] [--shift-id 2026-11-20-1]
    portal-agent status
    portal-agent run --sales-per-minute 10 [--minutes 60] [--time-scale 0.01]
    portal-agent disconnect | connect

Exit codes: 0 done, 1 failed (a package or a sale refused), 2 bad input, 3 portal unreachable,
4 credentials refused (wrong code, revoked token).
"""

import argparse
import json
import sys
from decimal import Decimal
from urllib.parse import urlsplit

from portal.agent import mode, register_cli, sales, shifts, sync
from portal.agent import upload as uploads
from portal.agent.client import PortalClient
from portal.agent.errors import EXIT_FAILED, AgentError, ApplyFailed, UsageError
from portal.agent.local import DEFAULT_STATE, KEPT, SET_ASIDE, LocalState, now_iso


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    try:
        state = LocalState(args.state)
    except Exception as error:  # a path that is a folder, unwritable, not a database ...
        print(
            f"portal-agent: cannot open the state database {args.state}: {error}", file=sys.stderr
        )
        return UsageError.exit_code
    try:
        return args.command(args, state) or 0
    except AgentError as error:
        print(f"portal-agent: {error.message}", file=sys.stderr)
        return error.exit_code
    finally:
        state.close()


def build_parser() -> argparse.ArgumentParser:
    """The command line: global options, then one command."""
    parser = argparse.ArgumentParser(
        prog="portal-agent",
        description="Plays a store server or a register against a running HQ Portal.",
    )
    parser.add_argument("--state", default=DEFAULT_STATE, help="local database file")
    parser.add_argument("--url", help="the portal's address (stored by activate)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=5, help="tries after a transient failure")
    parser.add_argument("--backoff", type=float, default=0.5, help="first retry delay (seconds)")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    activate = commands.add_parser("activate", help="trade an activation code for a token")
    activate.add_argument("--database", required=True, help="database name, id or register")
    activate.add_argument("--code", required=True, help="the one-time activation code from HQ")
    activate.set_defaults(command=run_activate)

    commands.add_parser("sync", help="download and apply the available packages").set_defaults(
        command=run_sync
    )

    sell = commands.add_parser("sell", help="record sales locally")
    sell.add_argument("--count", type=int, required=True, help="how many sales")
    sell.add_argument("--offline", action="store_true", help="sell as a register cut off from HQ")
    sell.add_argument("--register", help="the register selling (store databases)")
    sell.add_argument("--seed", type=int, help="make the choice of products repeatable")
    sell.add_argument(
        "--skip", type=int, default=0, help="leave this many sequence numbers unused first"
    )
    sell.add_argument(
        "--price-change",
        type=int,
        default=0,
        metavar="PERCENT",
        help="sell at prices this much off those HQ sent (HQ sees price mismatches)",
    )
    sell.set_defaults(command=run_sell)

    upload = commands.add_parser("upload", help="send the sales HQ has not stored yet")
    upload.add_argument("--batch-size", type=int, default=uploads.BATCH_SIZE)
    upload.add_argument(
        "--include-refused",
        action="store_true",
        help="send the sales kept here (rejected, in conflict, set aside) again",
    )
    upload.set_defaults(command=run_upload)

    resend = commands.add_parser("resend", help="send one recorded sale again on its own")
    resend.add_argument("receipt", help="its receipt number, e.g. HOUSTON-1-000042")
    resend.add_argument(
        "--changed", action="store_true", help="with another payment method: HQ sees a conflict"
    )
    resend.set_defaults(command=run_resend)

    close = commands.add_parser(
        "close-shift", help="close the shift: send HQ the statement of what was sold"
    )
    close.add_argument("--register", help="the register closing (store databases)")
    close.add_argument("--shift-id", help="the shift's id (default: <day>-<n>)")
    close.set_defaults(command=run_close_shift)

    status = commands.add_parser("status", help="show the local state and send a heartbeat")
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    status.add_argument("--no-heartbeat", action="store_true", help="do not contact the portal")
    status.set_defaults(command=run_status)
    register_cli.add_commands(commands, device_client)
    return parser


def client_for(args, state: LocalState, token: str | None = None) -> PortalClient:
    """A client for the stored (or given) portal address."""
    url = args.url or state.get("url")
    if not url:
        raise UsageError("Give the portal's address with --url.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"--url must be an http(s) address such as http://127.0.0.1:5000, not {url!r}."
        )
    if args.retries < 0 or args.backoff < 0 or args.timeout <= 0:
        raise UsageError("--retries and --backoff must not be negative, --timeout positive.")
    return PortalClient(
        url, token, timeout=args.timeout, retries=args.retries, backoff=args.backoff
    )


def device_client(args, state: LocalState) -> PortalClient:
    """A client carrying the stored device token."""
    return client_for(args, state, state.activated()["token"])


def run_activate(args, state: LocalState) -> int:
    """Trade the code for a device token and keep it with the database's configuration."""
    known = state.get("database")
    if known and args.database not in _names_of(known, state):
        raise UsageError(
            f"{state.path} belongs to {known['name']}; use another --state for {args.database}."
        )
    with client_for(args, state) as client:
        body = {"database": args.database, "activation_code": args.code}
        answer = client.call("POST", "/activate", json=body, idempotent=False)
        url = client.url
    database = answer["channel_database"]
    if known and known.get("id") != database.get("id"):
        raise UsageError(f"{state.path} belongs to {known['name']}, not {database['name']}.")
    state.put(url=url, token=answer["device_token"], database=database, activated_at=now_iso())
    with device_client(args, state) as client:
        sync.fetch_config(client, state)
    where = ", ".join(
        f"{label} {database[label]}" for label in ("store", "register") if database.get(label)
    )
    print(f"Activated {database['name']} ({database.get('kind')}; {where}) at {url}.")
    print(f"Next: portal-agent --state {state.path} sync")
    return 0


def run_sync(args, state: LocalState) -> int:
    """Apply the available packages in order, report each, then send a heartbeat."""
    with device_client(args, state) as client:
        try:
            applied = sync.sync(client, state, print)
        except ApplyFailed:
            _heartbeat_anyway(client, state)
            raise
        heartbeat(client, state, print)
    print(f"Synced: {applied} package(s) applied.")
    return 0


def run_sell(args, state: LocalState) -> int:
    """Record sales in the local database; no connection to the portal needed."""
    state.activated()
    sold = sales.sell(
        state, args.count, args.offline, args.register, args.seed, args.skip, args.price_change
    )
    total = sum(Decimal(sale["total"]) for sale in sold)
    first, last = sold[0], sold[-1]
    mode = "offline" if args.offline else "online"
    print(
        f"Recorded {len(sold)} {mode} sale(s) on register {first['register']}: receipts "
        f"{first['receipt_number']} to {last['receipt_number']}, total {total}."
    )
    return 0


def run_resend(args, state: LocalState) -> int:
    """Send one sale again; HQ answers duplicate, or conflict when it was changed."""
    with device_client(args, state) as client:
        result = uploads.resend(client, state, args.receipt, args.changed)
    errors = f": {result['errors']}" if result.get("errors") else ""
    print(f"{args.receipt} sent again: {result['status']}{errors}.")
    return 0


def run_upload(args, state: LocalState) -> int:
    """Upload the pending sales, then send a heartbeat; non-zero if HQ refused any."""
    with device_client(args, state) as client:
        counts = uploads.upload(
            client, state, print, args.batch_size, include_refused=args.include_refused
        )
        sync.heartbeat(client, state)
    stored = counts["accepted"] + counts["duplicate"]
    print(
        f"Uploaded: {counts['accepted']} accepted, {counts['duplicate']} duplicate, "
        f"{counts['rejected']} rejected, {counts['conflict']} conflict, "
        f"{counts[SET_ASIDE]} set aside; "
        f"{stored} stored at HQ, {state.pending_uploads()} still pending here."
    )
    if counts["rejected"] + counts["conflict"] + counts[SET_ASIDE]:
        for sale in uploads.kept(state):
            print(f"  {sale['receipt_number']} {sale['status']}: {sale['errors']}", file=sys.stderr)
        print(
            "portal-agent: HQ refused some sales or kept failing on them; they stay here (see "
            "'status'), send them again with 'upload --include-refused' once HQ or the sale is "
            "corrected.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def run_close_shift(args, state: LocalState) -> int:
    """Record the shift's statement and send HQ every statement it lacks."""
    state.activated()
    with device_client(args, state) as client:
        answers = shifts.close_shift(client, state, args.register, args.shift_id)
    for answer in answers:
        print(f"Shift {answer['shift_id']} sent: {answer['status']}, {answer.get('state')} at HQ.")
    return 0


def run_status(args, state: LocalState) -> int:
    """Print what the agent holds, then tell HQ with a heartbeat."""
    report = local_report(state)
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print_report(report)
    if not args.no_heartbeat:
        with device_client(args, state) as client:
            heartbeat(client, state, _stderr if args.json else print)
        if not args.json:
            print("Heartbeat sent.")
    return 0


def local_report(state: LocalState) -> dict:
    """The agent's local state, as `status` shows it."""
    packages = state.packages()
    database = state.get("database") or {}
    transactions = state.transaction_counts()
    return {
        "state": str(state.path),
        "url": state.get("url"),
        "database": database,
        "activated": bool(state.get("token")),
        "mode": mode.mode(state),
        "mode_since": mode.mode_since(state),
        "offline_since": state.get("offline_since"),
        "switched_by_hand": mode.manual(state),
        "sync_paused": mode.sync_paused(state),
        "uploads_sales": mode.uploads_sales(state),
        "last_error": state.get("last_error") or "",
        "last_sync_at": state.get("last_sync_at"),
        "last_heartbeat_at": state.get("last_heartbeat_at"),
        "packages": {
            "applied": sum(p["status"] == "applied" for p in packages),
            "apply_failed": sum(
                p["status"] in ("apply_failed", "download_failed") for p in packages
            ),
            "unreported": sum(p["reported_at"] is None for p in packages),
            "last_applied": state.last_applied_package(),
        },
        "tables": {table: len(state.rows(table)) for table in state.tables()},
        "transactions": transactions,
        "pending_uploads": state.pending_uploads(),
        "kept": {
            "count": sum(n for status, n in transactions.items() if status in KEPT),
            "sales": uploads.kept(state),
        },
    }


def _print_report(report: dict) -> None:
    database = report["database"]
    packages = report["packages"]
    print(f"State:      {report['state']}")
    print(f"Portal:     {report['url'] or '(not activated)'}")
    if database:
        print(
            f"Database:   {database.get('name')} ({database.get('kind')}, id {database.get('id')})"
            f", store {database.get('store')}, register {database.get('register') or '-'}"
        )
    since = f" since {report['mode_since']}" if report["mode_since"] else ""
    by_hand = " (switched by hand: 'connect' to go back)" if report["switched_by_hand"] else ""
    print(f"Mode:       {report['mode']}{since}{by_hand}")
    if report["sync_paused"]:
        print("Sync:       paused by the offline profile (no downloads)")
    if not report["uploads_sales"]:
        print("Uploads:    off (the offline profile has no upload scope for sales)")
    if report["last_error"]:
        print(f"Last error: {report['last_error']}")
    print(f"Last sync:  {report['last_sync_at'] or 'never'}")
    print(
        f"Packages:   {packages['applied']} applied (last {packages['last_applied'] or '-'}), "
        f"{packages['apply_failed']} failed, {packages['unreported']} not yet reported"
    )
    tables = ", ".join(f"{name} {count}" for name, count in report["tables"].items())
    print(f"Tables:     {len(report['tables'])}{': ' + tables if tables else ''}")
    counts = ", ".join(f"{n} {status}" for status, n in report["transactions"].items())
    print(f"Sales:      {counts or 'none'}; {report['pending_uploads']} waiting for HQ")
    kept = report["kept"]
    if kept["count"]:
        print(
            f"Kept here:  {kept['count']} sale(s) HQ refused or kept failing on; "
            "send them again with 'upload --include-refused'"
        )
    for sale in kept["sales"]:
        print(f"  {sale['receipt_number']} {sale['status']}: {sale['errors']}")
    if kept["count"] > len(kept["sales"]):
        print(f"  ... and {kept['count'] - len(kept['sales'])} more")


def heartbeat(client: PortalClient, state: LocalState, say) -> None:
    """Send a heartbeat; when HQ asks for the sales waiting here, upload them and report again."""
    if sync.heartbeat(client, state).get("upload_requested") and state.pending_uploads():
        say(f"HQ asks for the sales waiting here: uploading {state.pending_uploads()} now.")
        uploads.upload(client, state, say)
        sync.heartbeat(client, state)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _heartbeat_anyway(client: PortalClient, state: LocalState) -> None:
    try:
        sync.heartbeat(client, state)
    except AgentError as error:
        print(f"portal-agent: the heartbeat failed too: {error.message}", file=sys.stderr)


def _names_of(database: dict, state: LocalState) -> set[str]:
    config = state.get("config") or {}
    register = (config.get("register") or {}).get("register_number") or database.get("register")
    store = (config.get("store") or {}).get("store_number") or database.get("store")
    names = {str(database.get("id")), database.get("name"), register}
    if database.get("kind") == "channel":
        names.add(store)
    return {name for name in names if name}
