"""Online or offline: the register's connection mode, its offline profile, what it tells HQ.

The mode lives in the local database, so `disconnect` and `connect` (operation 917) typed in
another terminal reach a running `portal-agent run` at its next sale.
"""

import shutil
from dataclasses import dataclass

from portal.agent.local import LocalState, now_iso

ONLINE = "online"
OFFLINE = "offline"
# The tables a register uploads: its sales, whole (lines and payments go with their sale).
SALES_TABLE = "sales_transaction"
UPLOADING = ("upload", "bidirectional")
# The offline profile's defaults at HQ, for a database that has no profile (a store's).
DEFAULT_TIMEOUT_S = 30
DEFAULT_RECONNECT_MIN = 5
DEFAULT_HEALTH_CHECK_MIN = 5


def mode(state: LocalState) -> str:
    """ "online" or "offline", as the register is now."""
    return OFFLINE if state.get("offline_since") else ONLINE


def mode_since(state: LocalState) -> str | None:
    """Since when the register is in its mode (ISO 8601): online from its activation on."""
    return state.get("offline_since") or state.get("mode_since") or state.get("activated_at")


def manual(state: LocalState) -> bool:
    """Whether a person switched the register offline by hand (it then stays until `connect`)."""
    return bool(state.get("manual_offline")) and mode(state) == OFFLINE


def go_offline(state: LocalState, reason: str | None = None, by_hand: bool = False) -> bool:
    """Switch to the offline database, noting why; False if it already was offline."""
    error = {"last_error": reason[:1000]} if reason else {}
    if mode(state) == OFFLINE:
        if by_hand:
            state.put(manual_offline=True)
        return False
    moment = now_iso()
    state.put(offline_since=moment, mode_since=moment, manual_offline=by_hand, **error)
    return True


def go_online(state: LocalState) -> bool:
    """Switch back to HQ; False if it already was online."""
    if mode(state) == ONLINE:
        return False
    state.put(offline_since=None, mode_since=now_iso(), manual_offline=False)
    return True


def note_error(state: LocalState, message: str) -> None:
    """Keep the last error for the heartbeat, so HQ can help the store."""
    state.put(last_error=message[:1000])


def profile(state: LocalState) -> dict | None:
    """The register's offline profile as HQ last sent it; None for a store's database."""
    return (state.get("config") or {}).get("offline_profile")


def sync_paused(state: LocalState) -> bool:
    """The offline profile pauses synchronization: the register downloads nothing."""
    return bool((profile(state) or {}).get("pause_sync"))


def uploads_sales(state: LocalState) -> bool:
    """Whether the register sends its sales to HQ: its profile's upload scopes decide.

    A store's database (no offline profile) always does; a register only when one of its
    profile's upload (or bidirectional) scopes names the sales table.
    """
    found = profile(state)
    if found is None:
        return True
    return any(
        scope.get("direction") in UPLOADING and SALES_TABLE in (scope.get("tables") or [])
        for scope in found.get("scopes") or []
    )


def may_switch_by_hand(state: LocalState) -> bool:
    """Operation 917 before sign-in needs the profile's permission; after sign-in it is free."""
    return bool(state.get("signed_in")) or bool(
        (profile(state) or {}).get("allow_manual_switch_before_sign_in")
    )


@dataclass(frozen=True)
class Timing:
    """The offline profile's durations in seconds, each multiplied by the time scale.

    A time scale below 1 makes a drill or a test live through hours of profile time in
    seconds: at 0.01 a 5-minute reconnection interval lasts 3 seconds.
    """

    offline_timeout: float
    reconnect_interval: float
    health_check_interval: float

    @classmethod
    def of(cls, state: LocalState, scale: float = 1.0) -> "Timing":
        """The durations of the register's profile (HQ's defaults without one)."""
        found = profile(state) or {}
        return cls(
            offline_timeout=found.get("offline_timeout_s", DEFAULT_TIMEOUT_S) * scale,
            reconnect_interval=found.get("reconnect_interval_min", DEFAULT_RECONNECT_MIN)
            * 60
            * scale,
            health_check_interval=found.get("health_check_interval_min", DEFAULT_HEALTH_CHECK_MIN)
            * 60
            * scale,
        )


def disk_report(state: LocalState) -> dict:
    """The local database's size (with its write-ahead log) and the free space beside it."""
    size = 0
    for suffix in ("", "-wal"):
        path = state.path.with_name(state.path.name + suffix)
        if path.exists():
            size += path.stat().st_size
    return {
        "database_bytes": size,
        # HQ takes sizes below 10^14 bytes; a larger disk is reported as that.
        "free_disk_bytes": min(shutil.disk_usage(state.path.parent).free, 10**14 - 1),
    }
