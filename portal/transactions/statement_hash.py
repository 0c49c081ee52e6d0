"""The hash that chains a register's shift statements, computed the same on both sides.

Pure (the standard library only): `portal-agent` computes it for the statement it sends next, HQ
for the one it receives. The hash is the SHA-256 of the statement's canonical JSON: keys sorted,
no spaces; times in UTC as `2026-11-20T20:03:11+00:00` (microseconds only when not zero);
money with exactly four decimals ("512.4000"); counts and sequences as numbers;
`previous_hash` and `sales_digest` as sent, or null.
"""

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

FIELDS = (
    "register",
    "shift_id",
    "opened_at",
    "closed_at",
    "first_sequence",
    "last_sequence",
    "counts",
    "totals",
    "payments",
    "previous_hash",
    "sales_digest",
)


def statement_hash(statement: dict) -> str:
    """The SHA-256 (hex) of a statement's canonical form; times aware, money Decimal or text."""
    canonical = {
        "register": statement["register"],
        "shift_id": statement["shift_id"],
        "opened_at": _moment(statement["opened_at"]),
        "closed_at": _moment(statement["closed_at"]),
        "first_sequence": int(statement["first_sequence"]),
        "last_sequence": int(statement["last_sequence"]),
        "counts": {kind: int(n) for kind, n in statement["counts"].items()},
        "totals": {kind: _money(v) for kind, v in statement["totals"].items()},
        "payments": {method: _money(v) for method, v in statement["payments"].items()},
        "previous_hash": statement.get("previous_hash"),
        "sales_digest": statement.get("sales_digest"),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def sales_digest(content_hashes: list[str]) -> str:
    """A shift's sales digest: SHA-256 of their content hashes in sequence order, one a line."""
    return hashlib.sha256("\n".join(content_hashes).encode()).hexdigest()


def _moment(value: datetime | str) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).isoformat()


def _money(value: Decimal | str) -> str:
    return f"{Decimal(str(value)):.4f}"
