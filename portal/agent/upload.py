"""`upload`: send the sales HQ has not stored yet, in batches, exactly once whatever happens.

Each batch carries an Idempotency-Key derived from its bytes, so a retry of a batch whose answer
was lost replays HQ's first answer; a sale is marked done only from HQ's answer for it
(accepted or duplicate), so an agent killed between sending and marking sends it again later
and HQ answers duplicate. Rejected and conflicting sales stay here, shown, for a person to see.

A batch HQ refuses as a whole (a 4xx other than "still in progress") or keeps failing on (a 5xx
other than 503 "busy", past the retries) is split in halves, down to single sales, so that what
HQ can take is stored and only the culprits stay behind. A sale HQ keeps failing on alone is set
aside, with HQ's last answer, once HQ has answered another batch of the same upload: then the
fault is the sale's, not HQ's. While HQ answers none, nothing is set aside: the upload stops
with the error, and the next one sends those sales after the others. Sales kept here go again
only when asked.
"""

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from portal.agent import mode
from portal.agent.client import PortalClient, TransientStatus
from portal.agent.errors import AgentError, PortalUnreachable, Refused, UsageError
from portal.agent.local import DONE, KEPT, PENDING, REFUSED, SET_ASIDE, LocalState, now_iso

BATCH_SIZE = 500
# HQ saying it is busy, whatever the batch: the upload stops and the next one tries again.
BUSY = frozenset({429, 503})
# Sales failing alone, with no batch of the upload answered yet, after which it stops: by then HQ
# more likely fails on every sale than on these few.
SUSPECTS_BEFORE_STOP = 3

Say = Callable[[str], None]
NO_UPLOAD_SCOPE = (
    "The offline profile has no upload scope for sales (sales_transaction): the sales stay "
    "here, and the heartbeat tells HQ how many."
)


@dataclass
class Run:
    """One upload: whether HQ answered a batch or a probe, and the sales it failed on alone."""

    answered: bool = False
    probed: bool = False
    suspects: dict[str, AgentError] = field(default_factory=dict)


def upload(
    client: PortalClient,
    state: LocalState,
    say: Say,
    batch_size: int = BATCH_SIZE,
    include_refused: bool = False,
) -> dict[str, int]:
    """Upload every pending sale (and the kept ones if asked); returns the outcome counts."""
    if not mode.uploads_sales(state):
        raise UsageError(NO_UPLOAD_SCOPE)
    if not 1 <= batch_size <= BATCH_SIZE:
        raise UsageError(f"--batch-size must be between 1 and {BATCH_SIZE}.")
    statuses = (PENDING, *KEPT) if include_refused else (PENDING,)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0, "conflict": 0, SET_ASIDE: 0}
    run = Run()
    try:
        for rows in _batches(state, statuses, batch_size):
            batch = _send(client, state, run, say, rows)
            for status, n in batch.items():
                counts[status] = counts.get(status, 0) + n
            answered = ", ".join(f"{n} {status}" for status, n in sorted(batch.items()) if n)
            say(f"Uploaded a batch of {len(rows)}: {answered or 'no answer for any'}.")
    finally:
        counts[SET_ASIDE] = _keep_suspects(state, run)
    if run.suspects and not run.answered:
        # HQ answered nothing: the fault may be HQ's, so nothing is set aside.
        raise next(reversed(run.suspects.values()))
    if state.pending_uploads() == 0 and not mode.manual(state):
        mode.go_online(state)  # reconnected, and nothing is waiting any more
    return counts


def _batches(state: LocalState, statuses: tuple[str, ...], size: int) -> Iterator[list]:
    """The sales to send, in batches: in the order sold, those that failed before last."""
    marks = ", ".join("?" for _ in statuses)
    rowids = [
        row[0]
        for row in state.conn.execute(
            f"SELECT rowid FROM agent_transaction WHERE uploaded_at IS NULL "
            f"AND status IN ({marks}) ORDER BY errors <> '{{}}', rowid",
            statuses,
        )
    ]
    for start in range(0, len(rowids), size):
        chunk = rowids[start : start + size]
        marks = ", ".join("?" for _ in chunk)
        yield state.conn.execute(
            f"SELECT transaction_id, json_extract(payload, '$.receipt_number') AS receipt_number, "
            f"payload FROM agent_transaction WHERE rowid IN ({marks}) "
            f"ORDER BY errors <> '{{}}', rowid",
            chunk,
        ).fetchall()


def _send(
    client: PortalClient, state: LocalState, run: Run, say: Say, rows: list[sqlite3.Row]
) -> dict[str, int]:
    """Send one batch, in halves while HQ refuses or fails on it as a whole; record the answers."""
    try:
        answer = _post(client, _body([row["payload"] for row in rows]))
    except (Refused, TransientStatus) as error:
        if _in_progress(error) or error.status in BUSY:
            raise
        _probe(client, run, error)
        if len(rows) > 1:
            half = len(rows) // 2
            first = _send(client, state, run, say, rows[:half])
            second = _send(client, state, run, say, rows[half:])
            return {s: first.get(s, 0) + second.get(s, 0) for s in {*first, *second}}
        say(f"HQ failed on sale {rows[0]['receipt_number']} alone: {_reason(error)}.")
        run.suspects[rows[0]["transaction_id"]] = error
        if not run.answered and len(run.suspects) >= SUSPECTS_BEFORE_STOP:
            raise
        return {}
    run.answered = True
    return record_results(state, answer.get("results") or [])


def _post(client: PortalClient, body: bytes) -> dict:
    """POST one batch under its key; a batch still being stored from a lost try is waited for."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": batch_key(body)}
    attempt = 0
    while True:
        try:
            return client.call("POST", "/transactions", content=body, headers=headers)
        except Refused as error:
            if not _in_progress(error) or attempt >= client.retries:
                raise
            client.wait(attempt)
            attempt += 1


def _in_progress(error: AgentError) -> bool:
    # The same batch is still being stored from an earlier try whose answer was lost.
    return (
        isinstance(error, Refused) and error.status == 409 and "Idempotency-Key" not in error.fields
    )


def _probe(client: PortalClient, run: Run, error: AgentError) -> None:
    """Raise the batch's error when HQ fails this device on anything, not just on these sales."""
    if run.answered or run.probed:
        return
    try:
        client.call("GET", "/config")
    except (PortalUnreachable, Refused):
        raise error from None
    run.probed = True


def _keep_suspects(state: LocalState, run: Run) -> int:
    """Set aside the sales HQ failed on alone if it answered others; how many were set aside.

    If it answered none, each keeps its status with the failure noted, so that the next upload
    sends it after the others.
    """
    if not run.suspects:
        return 0
    status = ", status = ?" if run.answered else ""
    with state.transaction() as conn:
        for transaction_id, error in run.suspects.items():
            conn.execute(
                f"UPDATE agent_transaction SET errors = ?{status} WHERE transaction_id = ?",
                (
                    json.dumps({"upload": _reason(error)}),
                    *((SET_ASIDE,) if run.answered else ()),
                    transaction_id,
                ),
            )
    return len(run.suspects) if run.answered else 0


def _reason(error: AgentError) -> str:
    if isinstance(error, TransientStatus):
        return f"HQ answered {error.status}: {error.answer}"
    if isinstance(error, Refused):
        return f"HQ answered {error.status}: {error.message}"
    return error.message


def resend(client: PortalClient, state: LocalState, receipt_number: str, changed: bool) -> dict:
    """Send one recorded sale again on its own; HQ's answer for it.

    Unchanged, HQ answers duplicate and stores nothing. Changed (paid by another method under
    the same transaction id, as a register restored from an old backup might), HQ answers
    conflict and keeps the new content aside for its auditors. The local record stays as it was.
    """
    row = state.conn.execute(
        "SELECT payload FROM agent_transaction WHERE json_extract(payload, '$.receipt_number') = ?",
        (receipt_number,),
    ).fetchone()
    if row is None:
        raise UsageError(f"No sale with receipt {receipt_number} was recorded here.")
    sale = json.loads(row["payload"])
    if changed:
        for payment in sale["payments"]:
            payment["method"] = "card" if payment["method"] == "cash" else "cash"
    body = _body([json.dumps(sale)])
    headers = {"Content-Type": "application/json", "Idempotency-Key": batch_key(body)}
    answer = client.call("POST", "/transactions", content=body, headers=headers)
    (result,) = answer["results"]
    return result


def record_results(state: LocalState, results: list[dict]) -> dict[str, int]:
    """Mark each sale as HQ answered for it; a sale HQ did not answer for stays pending."""
    counts: dict[str, int] = {}
    uploaded = now_iso()
    with state.transaction() as conn:
        for result in results:
            status = result.get("status")
            if status not in (*DONE, *REFUSED) or not result.get("transaction_id"):
                continue
            counts[status] = counts.get(status, 0) + 1
            conn.execute(
                "UPDATE agent_transaction SET status = ?, errors = ?, uploaded_at = ? "
                "WHERE transaction_id = ?",
                (
                    status,
                    json.dumps(result.get("errors") or {}),
                    uploaded if status in DONE else None,
                    str(result["transaction_id"]),
                ),
            )
    return counts


def _body(payloads: list[str]) -> bytes:
    transactions = [json.loads(payload) for payload in payloads]
    return json.dumps(
        {"transactions": transactions}, sort_keys=True, separators=(",", ":")
    ).encode()


def batch_key(body: bytes) -> str:
    """The Idempotency-Key of a batch: the same sales give the same key on every retry."""
    return "agent-" + hashlib.sha256(body).hexdigest()


def kept(state: LocalState, limit: int = 20) -> list[dict]:
    """Sales kept here (rejected, in conflict or set aside), with HQ's reasons, oldest first."""
    marks = ", ".join("?" for _ in KEPT)
    rows = state.conn.execute(
        f"SELECT transaction_id, json_extract(payload, '$.receipt_number') AS receipt_number, "
        f"status, errors FROM agent_transaction WHERE status IN ({marks}) ORDER BY rowid LIMIT ?",
        (*KEPT, limit),
    ).fetchall()
    return [{**dict(row), "errors": json.loads(row["errors"])} for row in rows]
