"""Closing a shift: the register's statement of what it sold since the last one, sent to HQ.

`close_shift` records the statement locally first (so a statement HQ did not get is sent with the
next call, in order) and then sends every unsent one; `send_statements` only sends. Each names
the hash of the register's previous statement (`portal.transactions.statement_hash`), so HQ
sees a statement that never arrived or was altered.

The statement carries the digest of the shift's sales (their content hashes, computed with HQ's
own pure check of a sale), so HQ sees a sale whose content differs from what the register sold.

Sequence numbers the register left unused (`sell --skip`) count as sales of the shift: they
stand for sales the register made and lost, which HQ then reports missing.
"""

import json
from collections import Counter
from datetime import datetime
from decimal import Decimal

from portal.agent.client import PortalClient
from portal.agent.errors import UsageError
from portal.agent.local import LocalState, now_iso
from portal.agent.sales import _register, _zone
from portal.transactions.statement_hash import sales_digest, statement_hash
from portal.transactions.validation import check

SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_statement (
    id INTEGER PRIMARY KEY,
    register TEXT NOT NULL,
    shift_id TEXT NOT NULL,
    last_sequence INTEGER NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT,
    sent_at TEXT,
    UNIQUE (register, shift_id)
);
"""


def close_shift(
    client: PortalClient,
    state: LocalState,
    register: str | None = None,
    shift_id: str | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """Close the register's shift and send HQ every statement it lacks; HQ's answers."""
    statement = record_statement(state, register, shift_id, now)
    answers = send_statements(client, state)
    return answers or [{"status": "duplicate", "shift_id": statement["shift_id"]}]


def record_statement(
    state: LocalState,
    register: str | None = None,
    shift_id: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Write the statement of the sales since the register's last one; refuses an empty shift."""
    state.conn.executescript(SCHEMA)
    register = _register(state, register)
    zone = _zone((state.get("config") or {}).get("store", {}).get("time_zone"))
    now = (now or datetime.now(zone)).astimezone(zone)
    with state.transaction() as conn:
        previous = conn.execute(
            "SELECT last_sequence, hash FROM agent_statement WHERE register = ? "
            "ORDER BY id DESC LIMIT 1",
            (register,),
        ).fetchone()
        after = previous["last_sequence"] if previous else 0
        rows = conn.execute(
            "SELECT sequence, created_at, payload FROM agent_transaction "
            "WHERE register = ? AND sequence > ? ORDER BY sequence",
            (register, after),
        ).fetchall()
        if not rows:
            raise UsageError(f"Register {register} sold nothing since its last shift closed.")
        first = after + 1 if previous else rows[0]["sequence"]
        last = rows[-1]["sequence"]
        digest = _digest([json.loads(row["payload"]) for row in rows])
        counts: Counter = Counter()
        totals: dict[str, Decimal] = {}
        payments: dict[str, Decimal] = {}
        for row in rows:
            sale = json.loads(row["payload"])
            kind = sale.get("kind", "sale")
            counts[kind] += 1
            totals[kind] = totals.get(kind, Decimal(0)) + Decimal(sale["total"])
            for payment in sale["payments"]:
                method = payment["method"]
                payments[method] = payments.get(method, Decimal(0)) + Decimal(payment["amount"])
        # Numbers left unused stand for sales made and lost: the Z report counts them.
        counts["sale"] += (last - first + 1) - len(rows)
        totals.setdefault("sale", Decimal(0))
        day = now.date().isoformat()
        if shift_id is None:
            closed_today = conn.execute(
                "SELECT COUNT(*) FROM agent_statement WHERE register = ? AND shift_id LIKE ?",
                (register, f"{day}-%"),
            ).fetchone()[0]
            shift_id = f"{day}-{closed_today + 1}"
        body = {
            "register": register,
            "shift_id": shift_id,
            "opened_at": min(row["created_at"] for row in rows),
            "closed_at": now.isoformat(timespec="seconds"),
            "first_sequence": first,
            "last_sequence": last,
            "counts": dict(counts),
            "totals": {kind: str(total) for kind, total in totals.items()},
            "payments": {method: str(amount) for method, amount in payments.items()},
            "previous_hash": previous["hash"] if previous else None,
            "sales_digest": digest,
        }
        exists = conn.execute(
            "SELECT 1 FROM agent_statement WHERE register = ? AND shift_id = ?",
            (register, shift_id),
        ).fetchone()
        if exists:
            raise UsageError(f"Shift {shift_id} of {register} is closed already; give another id.")
        conn.execute(
            "INSERT INTO agent_statement (register, shift_id, last_sequence, hash, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (register, shift_id, last, statement_hash(body), json.dumps(body)),
        )
    return body


def _digest(sales: list[dict]) -> str | None:
    """The shift's sales digest as HQ computes it from the sales it stores; None if unsure.

    The content hash is HQ's own canonical form of a sale (a pure function of the sale), so a
    sale HQ would refuse, and hence never hold, leaves the digest out.
    """
    hashes = []
    for sale in sales:
        checked, _ = check(sale)
        if checked is None:
            return None
        hashes.append(checked.content_sha256)
    return sales_digest(hashes)


def send_statements(client: PortalClient, state: LocalState) -> list[dict]:
    """Send the recorded statements HQ has not answered yet, oldest first; HQ's answers."""
    state.conn.executescript(SCHEMA)
    unsent = state.conn.execute(
        "SELECT id, body FROM agent_statement WHERE sent_at IS NULL ORDER BY id"
    ).fetchall()
    answers = []
    for row in unsent:
        # Sent again after a lost answer, the same statement is a duplicate at HQ.
        answer = client.call("POST", "/statements", json=json.loads(row["body"]), idempotent=True)
        with state.transaction() as conn:
            conn.execute(
                "UPDATE agent_statement SET state = ?, sent_at = ? WHERE id = ?",
                (answer.get("state"), now_iso(), row["id"]),
            )
        answers.append(answer | {"shift_id": json.loads(row["body"])["shift_id"]})
    return answers
