"""`sync`: fetch the configuration and the available packages, apply them in order, report back.

Packages are applied in the order HQ lists them; the first one that fails stops the sync, as
HQ holds back the later ones until it is applied.
"""

from collections.abc import Callable
from pathlib import Path

import httpx

from portal.agent import mode
from portal.agent.apply import apply_package
from portal.agent.client import PortalClient, TransientStatus, app_version
from portal.agent.errors import ApplyFailed, DownloadFailed, Refused
from portal.agent.local import LocalState, now_iso
from portal.distribution.package_files import file_sha256

Say = Callable[[str], None]
# Packages listed per request.
PAGE = 100
# A connection that never opened says the portal is out of reach, not that a package is at fault.
NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)


def fetch_config(client: PortalClient, state: LocalState) -> dict:
    """Keep the database's configuration (store, register, offline profile) locally."""
    config = client.call("GET", "/config")
    state.put(config=config, config_at=now_iso())
    return config


def available_packages(client: PortalClient) -> list[dict]:
    """This database's packages still to apply, in apply order, every page of them."""
    items: list[dict] = []
    params = {"status": "available", "limit": PAGE}
    while True:
        page = client.call("GET", "/packages", params=params)
        items += page["items"]
        if not page.get("next"):
            return items
        params = {**params, "cursor": page["next"]}


def sync(client: PortalClient, state: LocalState, say: Say) -> int:
    """Apply every available package in order; returns how many. Raises at the first failure."""
    fetch_config(client, state)
    if mode.sync_paused(state):
        say(
            f"Offline synchronization is paused by the offline profile "
            f"'{mode.profile(state)['name']}': no packages downloaded."
        )
        return 0
    items = available_packages(client)
    if not items:
        say("No packages to apply: up to date.")
    applied = 0
    for item in items:
        known = state.package(item["id"])
        if known is not None and known["status"] == "applied":
            # Applied here before, but HQ never heard of it (the report was lost).
            report(client, state, item["id"], "applied", "")
            say(f"Package {item['id']} (job {item['job']}) was applied before; reported it.")
            applied += 1
            continue
        try:
            path = download(client, state.package_folder, item, say)
            counts = apply_package(state, path, item)
        except ApplyFailed as error:
            # HQ offers the package again until its try count is used up.
            failed = "download_failed" if isinstance(error, DownloadFailed) else "apply_failed"
            with state.transaction() as conn:
                state.record_package(conn, item, failed, error.message)
            report(client, state, item["id"], failed, error.message)
            raise
        path.unlink(missing_ok=True)
        report(client, state, item["id"], "applied", "")
        applied += 1
        lines = sum(counts.values())
        say(f"Applied {item['kind']} package {item['id']} (job {item['job']}): {lines} line(s).")
    state.put(last_sync_at=now_iso())
    return applied


def report(client: PortalClient, state: LocalState, package_id: int, status: str, message: str):
    """Tell HQ a package's outcome, and remember that HQ knows."""
    body = {"status": status, "message": message[:1000]}
    attempt = 0
    while True:
        try:
            client.request("POST", f"/packages/{package_id}/status", json=body)
            break
        except Refused as error:
            # HQ may still be recording the download this report follows ("changed
            # meanwhile"): worth another try. Out of order (must_apply_first) is not.
            moving = error.status == 409 and "must_apply_first" not in error.fields
            if not moving or attempt >= client.retries:
                raise
            client.wait(attempt)
            attempt += 1
    state.mark_reported(package_id)


def download(client: PortalClient, folder: Path, item: dict, say: Say) -> Path:
    """Download a package, resuming a partial file; verified against its SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{item['id']}.zip"
    partial = folder / f"{item['id']}.zip.partial"
    if final.exists() and file_sha256(final) == item["sha256"]:
        return final
    resumed = partial.exists() and partial.stat().st_size > 0
    from_store = _fetch_with_retries(client, item, partial, say)
    if resumed and file_sha256(partial) != item["sha256"]:
        # The partial file was not a prefix of this package (a stale or damaged leftover).
        say(f"Package {item['id']} failed its SHA-256 check after resuming; downloading it whole.")
        partial.unlink()
        from_store = _fetch_with_retries(client, item, partial, say)
    if file_sha256(partial) != item["sha256"]:
        partial.unlink()
        raise DownloadFailed(
            f"Package {item['id']} failed its SHA-256 check after download (expected "
            f"{item['sha256']}); the next sync downloads it again."
        )
    partial.replace(final)
    if from_store:
        # HQ saw no byte of a download from object storage: it learns of it from us.
        body = {"status": "downloaded", "message": ""}
        client.request("POST", f"/packages/{item['id']}/status", json=body)
    return final


def _fetch_with_retries(client: PortalClient, item: dict, partial: Path, say: Say) -> bool:
    attempt = 0
    while True:
        try:
            return _fetch(client, item, partial, say)
        except (httpx.TransportError, TransientStatus) as error:
            # The bytes received so far stay in the partial file: the next try resumes there.
            if attempt >= client.retries:
                if isinstance(error, TransientStatus):
                    raise
                if isinstance(error, NOT_CONNECTED):
                    raise client.unreachable(error) from None
                raise _abandoned(item, partial, attempt + 1, error) from None
            client.wait(attempt)
            attempt += 1


def _abandoned(item: dict, partial: Path, attempts: int, error: Exception) -> DownloadFailed:
    """The download given up after its resumes: HQ counts it as a failed try of the package."""
    received = partial.stat().st_size if partial.exists() else 0
    size = f" of {item['size']:,}" if item.get("size") else ""
    return DownloadFailed(
        f"Download of package {item['id']} abandoned after {attempts} attempt(s), the "
        f"connection lost each time ({error or type(error).__name__}); {received:,}{size} "
        "bytes received, kept for the next sync to resume."
    )


def _fetch(client: PortalClient, item: dict, partial: Path, say: Say) -> bool:
    """Download into `partial`, resuming it; True when the portal sent us to object storage."""
    offset = partial.stat().st_size if partial.exists() else 0
    if offset and offset >= item.get("size", offset + 1):
        offset = 0  # as long as the whole package or longer: it cannot be resumed
        partial.unlink()
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    path = f"/packages/{item['id']}/content"
    try:
        with client.stream(path, headers=headers) as response:
            resumed = response.status_code == 206 and _range_start(response) == offset
            if offset and resumed:
                say(f"Resuming the download of package {item['id']} at byte {offset}.")
            with open(partial, "ab" if resumed else "wb") as out:
                # As they arrive, unbuffered: a connection lost midway keeps every byte
                # received for the resume.
                for chunk in response.iter_bytes():
                    out.write(chunk)
            return bool(response.history)
    except Refused as error:
        if error.status == 416 and offset:
            partial.unlink()  # the portal's file is shorter than ours: start afresh
            return _fetch(client, item, partial, say)
        raise


def _range_start(response: httpx.Response) -> int | None:
    # "Content-Range: bytes 100-1233/1234"
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def heartbeat(client: PortalClient, state: LocalState) -> dict:
    """Tell HQ how this device is doing; returns HQ's answer.

    Mode and since when, sync position, sales waiting to upload, the local database's size and
    the free disk, the last error, and whether the offline profile pauses synchronization.
    `upload_requested` in the answer asks for the waiting sales now (job P-0001).
    """
    body = {
        "mode": mode.mode(state),
        "mode_since": mode.mode_since(state),
        "offline_since": state.get("offline_since"),
        "pending_uploads": state.pending_uploads(),
        "last_applied_package": state.last_applied_package(),
        "last_error": state.get("last_error") or "",
        "sync_paused": mode.sync_paused(state),
        **mode.disk_report(state),
        "app_version": app_version(),
    }
    answer = client.call("POST", "/status", json=body)
    state.put(last_heartbeat_at=now_iso())
    return answer
