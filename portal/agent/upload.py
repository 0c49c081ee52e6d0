"""`upload`: send the sales HQ has not stored yet, in batches, exactly once whatever happens.

Each batch carries an Idempotency-Key derived from its bytes, so a retry of a batch whose answer
was lost replays HQ's first answer; a sale is marked done only from HQ's answer for it
(accepted or duplicate), so an agent killed between sending and marking sends it again later
and HQ answers duplicate. Rejected and conflicting sales stay here, shown, for a person to see.
"""

import hashlib
import json
from collections.abc import Callable

from portal.agent.client import PortalClient
from portal.agent.errors import Refused, UsageError
from portal.agent.local import DONE, PENDING, REFUSED, LocalState, now_iso

BATCH_SIZE = 500

Say = Callable[[str], None]


def upload(
    client: PortalClient,
    state: LocalState,
    say: Say,
    batch_size: int = BATCH_SIZE,
    include_refused: bool = False,
) -> dict[str, int]:
    """Upload every pending sale (and refused ones if asked); returns the outcome counts."""
    if not 1 <= batch_size <= BATCH_SIZE:
        raise UsageError(f"--batch-size must be between 1 and {BATCH_SIZE}.")
    statuses = (PENDING, *REFUSED) if include_refused else (PENDING,)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0, "conflict": 0}
    last = 0
    while True:
        marks = ", ".join("?" for _ in statuses)
        rows = state.conn.execute(
            f"SELECT rowid, payload FROM agent_transaction WHERE uploaded_at IS NULL "
            f"AND status IN ({marks}) AND rowid > ? ORDER BY rowid LIMIT ?",
            (*statuses, last, batch_size),
        ).fetchall()
        if not rows:
            break
        last = rows[-1]["rowid"]
        batch = _send(client, state, [r["payload"] for r in rows])
        for status, n in batch.items():
            counts[status] = counts.get(status, 0) + n
        answered = ", ".join(f"{n} {status}" for status, n in sorted(batch.items()) if n)
        say(f"Uploaded a batch of {len(rows)}: {answered or 'no answer for any'}.")
    if state.pending_uploads() == 0:
        state.put(offline_since=None)  # reconnected, and nothing is waiting any more
    return counts


def _send(client: PortalClient, state: LocalState, payloads: list[str]) -> dict[str, int]:
    """Send one batch (split in halves if the portal finds it too large); record the answers."""
    body = _body(payloads)
    headers = {"Content-Type": "application/json", "Idempotency-Key": batch_key(body)}
    attempt = 0
    while True:
        try:
            answer = client.call("POST", "/transactions", content=body, headers=headers)
            break
        except Refused as error:
            if error.status == 413 and len(payloads) > 1:
                half = len(payloads) // 2
                first = _send(client, state, payloads[:half])
                second = _send(client, state, payloads[half:])
                return {s: first.get(s, 0) + second.get(s, 0) for s in {*first, *second}}
            # The same batch is still being stored from an earlier try whose answer was lost.
            in_progress = error.status == 409 and "Idempotency-Key" not in error.fields
            if not in_progress or attempt >= client.retries:
                raise
            client.wait(attempt)
            attempt += 1
    return record_results(state, answer.get("results") or [])


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


def refused(state: LocalState, limit: int = 20) -> list[dict]:
    """Sales HQ rejected or found in conflict, with its reasons."""
    marks = ", ".join("?" for _ in REFUSED)
    rows = state.conn.execute(
        f"SELECT transaction_id, receipt_number, status, errors FROM ("
        f"SELECT transaction_id, json_extract(payload, '$.receipt_number') AS receipt_number, "
        f"status, errors, rowid FROM agent_transaction WHERE status IN ({marks})) "
        f"ORDER BY rowid LIMIT ?",
        (*REFUSED, limit),
    ).fetchall()
    return [{**dict(row), "errors": json.loads(row["errors"])} for row in rows]
