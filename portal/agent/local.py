"""The agent's local SQLite database: its settings, packages, sales, and the tables HQ sends.

The tables HQ sends keep their package names (`product`, `tax_rate`, ...); the agent's own
bookkeeping lives in tables prefixed `agent_`, which no package may name.
"""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portal.agent.errors import UsageError

DEFAULT_STATE = "portal-agent.sqlite"
AGENT_PREFIX = "agent_"

SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_setting (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_package (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    new_version INTEGER,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    applied_at TEXT,
    reported_at TEXT
);
CREATE TABLE IF NOT EXISTS agent_table (
    name TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    columns TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_transaction (
    transaction_id TEXT PRIMARY KEY,
    register TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    offline INTEGER NOT NULL,
    total TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    errors TEXT NOT NULL DEFAULT '{}',
    uploaded_at TEXT,
    UNIQUE (register, sequence)
);
"""

# Transaction statuses: pending until HQ stored it (accepted or duplicate). Sales HQ refused
# (rejected, conflict) and those set aside (HQ kept failing on them alone) are kept here for a
# person, and sent again only when asked.
PENDING = "pending"
DONE = ("accepted", "duplicate")
REFUSED = ("rejected", "conflict")
SET_ASIDE = "set_aside"
KEPT = (*REFUSED, SET_ASIDE)


def now_iso() -> str:
    """The current UTC time as ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def quote(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


class LocalState:
    """One agent's local database file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every unit of work opens its own transaction (see `transaction`).
        # A drill hands each register's state from its setup thread to its selling thread; it
        # is never used by two threads at once.
        self.conn = sqlite3.connect(
            self.path, isolation_level=None, timeout=30, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database file."""
        self.conn.close()

    @property
    def package_folder(self) -> Path:
        """Where downloads (and partial downloads, for resuming) are kept."""
        return self.path.with_name(self.path.name + ".packages")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One local transaction: everything in it is written, or nothing (even if killed)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # Settings -----------------------------------------------------------------------------

    def get(self, name: str, default: Any = None) -> Any:
        """A setting's value (JSON-decoded), or the default."""
        row = self.conn.execute(
            "SELECT value FROM agent_setting WHERE name = ?", (name,)
        ).fetchone()
        return default if row is None else json.loads(row["value"])

    def put(self, **values: Any) -> None:
        """Store settings (JSON-encoded) in one transaction."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO agent_setting (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [(name, json.dumps(value)) for name, value in values.items()],
            )

    def activated(self) -> dict:
        """The activation settings; refuses if the agent was never activated."""
        url, token = self.get("url"), self.get("token")
        if not url or not token:
            raise UsageError(
                f"{self.path} holds no activation: run 'portal-agent --state {self.path} "
                "--url URL activate --database NAME --code CODE' first."
            )
        return {"url": url, "token": token, "database": self.get("database") or {}}

    # Packages -----------------------------------------------------------------------------

    def package(self, package_id: int) -> sqlite3.Row | None:
        """What the agent knows about one download session's package."""
        return self.conn.execute(
            "SELECT * FROM agent_package WHERE id = ?", (package_id,)
        ).fetchone()

    def record_package(self, conn: sqlite3.Connection, item: dict, status: str, message="") -> None:
        """Record a package's local outcome (inside the caller's transaction)."""
        conn.execute(
            "INSERT INTO agent_package (id, job, kind, sha256, new_version, status, message, "
            "applied_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "status = excluded.status, message = excluded.message, "
            "applied_at = excluded.applied_at, reported_at = NULL",
            (
                item["id"],
                str(item.get("job", "")),
                item.get("kind", ""),
                item.get("sha256", ""),
                item.get("new_version"),
                status,
                message,
                now_iso() if status == "applied" else None,
            ),
        )

    def mark_reported(self, package_id: int) -> None:
        """HQ knows this package's outcome."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE agent_package SET reported_at = ? WHERE id = ?", (now_iso(), package_id)
            )

    def last_applied_package(self) -> int | None:
        """The newest package applied here, as HQ's download session id."""
        return self.conn.execute(
            "SELECT MAX(id) FROM agent_package WHERE status = 'applied'"
        ).fetchone()[0]

    def packages(self) -> list[sqlite3.Row]:
        """Every package the agent handled, in apply order."""
        return self.conn.execute("SELECT * FROM agent_package ORDER BY id").fetchall()

    # Data tables --------------------------------------------------------------------------

    def table_spec(self, name: str) -> dict | None:
        """The key and columns a data table was created with, or None if it does not exist."""
        row = self.conn.execute("SELECT * FROM agent_table WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return {"key": json.loads(row["key"]), "columns": json.loads(row["columns"])}

    def tables(self) -> list[str]:
        """The data tables HQ's packages created, by name."""
        return [row[0] for row in self.conn.execute("SELECT name FROM agent_table ORDER BY name")]

    def rows(self, table: str) -> list[dict]:
        """Every row of a data table (values as text or None), ordered by key; [] if missing."""
        spec = self.table_spec(table)
        if spec is None:
            return []
        order = ", ".join(quote(k) for k in spec["key"])
        cursor = self.conn.execute(f"SELECT * FROM {quote(table)} ORDER BY {order}")
        return [dict(row) for row in cursor]

    # Transactions -------------------------------------------------------------------------

    def transaction_counts(self) -> dict[str, int]:
        """How many local sales are in each upload status."""
        cursor = self.conn.execute(
            "SELECT status, COUNT(*) FROM agent_transaction GROUP BY status ORDER BY status"
        )
        return {status: count for status, count in cursor}

    def pending_uploads(self) -> int:
        """Sales HQ has not stored yet (pending, or kept here after a refusal or failure)."""
        return self.conn.execute(
            "SELECT COUNT(*) FROM agent_transaction WHERE uploaded_at IS NULL"
        ).fetchone()[0]
