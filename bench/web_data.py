"""A large chain for the page benchmarks: stores and registers made by the services, sales by SQL.

Stores and their offline registers come from the same services HQ uses, so the packages have
real targets. A million sales cannot come through the upload in minutes, so they are written
with set-based INSERT ... SELECT over generate_series: upload sessions, sales with a line and a
payment each, and the anomalies the rules would have found on them (offline voids and returns,
typed prices, long offline spells). Every value is derived from the sale's number, so a run
always seeds the same rows.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench import fixtures
from portal.auth import services as auth
from portal.auth.roles import Role
from portal.core.extensions import db
from portal.setup.channels import services as channels

REGISTERS_EACH = 4
PRODUCTS = 10_000
DAYS = 90
# Sales a register uploads in one batch when it is back online.
BATCH = 25
# Most sales reach HQ within minutes of the sale.
UPLOAD_DELAY_S = 300
PASSWORD = "bench-password-1"
ROLES = (Role.HQ, Role.AUDITOR, Role.ADMIN)


@dataclass(frozen=True)
class Chain:
    """What was seeded: how many stores, registers and sales, and how they are numbered."""

    stores: int
    registers: int
    sales: int

    def store_number(self, store: int) -> str:
        """The number `fixtures.stores_with_offline_registers` gave the store-th store."""
        return f"S{store:05d}"

    def receipt(self, till: int, sequence: int) -> str:
        """The receipt number of a register's (by creation order) sale with this sequence."""
        store, register = divmod(till, REGISTERS_EACH)
        return f"{self.store_number(store)}-{register + 1}-{sequence:06d}"

    def sales_of(self, till: int) -> int:
        """How many sales the till-th register made."""
        return (self.sales - 1 - till) // self.registers + 1


def seed(stores: int, sales: int, users: int, step) -> tuple[Chain, list[tuple[str, str]]]:
    """The chain, its sales and `users` people (email, API token) with a role each."""
    fixtures.catalogue(PRODUCTS, "BENCH")
    fixtures.tax_data()
    channels.create_group("Load", "Stores under load")
    db.session.commit()
    step(f"web load: {stores:,} stores × {REGISTERS_EACH} offline registers")
    fixtures.stores_with_offline_registers(stores, REGISTERS_EACH, "Load")
    fixtures.schedule("LOAD", ["1040", "1080"], ["Load"])
    accounts = []
    for n in range(users):
        user = auth.create_user(f"user{n}@bench.example", ROLES[n % len(ROLES)], PASSWORD)
        accounts.append((user.email, auth.create_token(user, "web load")[1]))
    db.session.commit()
    chain = Chain(stores, stores * REGISTERS_EACH, sales)
    step(f"web load: {sales:,} sales over {DAYS} days")
    _sales(chain)
    # Fresh statistics, as autovacuum would have gathered on a live database by now.
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return chain, accounts


def _sales(chain: Chain) -> None:
    """Upload sessions, sales, their lines and payments, and anomalies, in a few statements."""
    # An hour back, so that no upload reaches HQ after the benchmark starts.
    end = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    end -= timedelta(hours=1)
    params = {
        "tills": chain.registers,
        "sales": chain.sales,
        "batch": BATCH,
        "delay": UPLOAD_DELAY_S,
        "start": end - timedelta(days=DAYS),
        # Seconds between two sales of the chain: the sale with number n is made at start + n × gap.
        "gap": DAYS * 86_400 / chain.sales,
        "products": PRODUCTS,
    }
    for statement in _STATEMENTS:
        db.session.execute(sa.text(statement), params)
    for table in ("upload_session", "pos_transaction"):
        db.session.execute(
            sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
        )
    db.session.commit()


# A register is a till number (0 to tills - 1, in creation order); the chain's n-th sale is the
# (n // tills + 1)-th of till n % tills. A register's batch b carries its sequences b × batch + 1
# onwards, and reaches HQ a few minutes after its last sale.
_STATEMENTS = (
    """
    CREATE TEMP TABLE till ON COMMIT DROP AS
    SELECT (row_number() OVER (ORDER BY r.id) - 1)::bigint AS till, r.id AS register_id,
           r.store_id, r.register_number, d.id AS database_id,
           (CAST(:sales AS bigint) - 1 - (row_number() OVER (ORDER BY r.id) - 1)) / :tills + 1
               AS sales
    FROM register r JOIN channel_database d ON d.register_id = r.id
    """,
    """
    CREATE TEMP TABLE batch ON COMMIT DROP AS
    SELECT t.till, b AS batch, b * :tills + t.till + 1 AS id, t.database_id,
           least((b + 1) * :batch, t.sales) - b * :batch AS sales,
           CAST(:start AS timestamp) + make_interval(
               secs => ((least((b + 1) * :batch, t.sales) - 1) * :tills + t.till) * :gap + :delay
           ) AS received_at
    FROM till t CROSS JOIN generate_series(0::bigint, (t.sales - 1) / :batch) b
    """,
    """
    INSERT INTO upload_session (id, channel_database_id, idempotency_key, request_sha256, status,
        received_at, finished_at, transactions, accepted, duplicates, rejected, conflicts, message)
    SELECT id, database_id, 'batch-' || till || '-' || batch,
           encode(sha256(convert_to('batch ' || id, 'UTF8')), 'hex'), 'applied',
           received_at, received_at + interval '200 milliseconds', sales, sales, 0, 0, 0, ''
    FROM batch
    """,
    """
    INSERT INTO pos_transaction (id, transaction_id, register_id, store_id, upload_session_id,
        sequence, receipt_number, staff, created_at, utc_offset_minutes, offline, offline_since,
        kind, total, content_sha256, received_at, review_status)
    SELECT s.n + 1, md5('sale ' || s.n)::uuid::text, t.register_id, t.store_id, b.id,
           s.sequence, t.register_number || '-' || lpad(s.sequence::text, 6, '0'),
           lpad((s.n % 40 + 1)::text, 6, '0'), s.created_at, -360, s.offline,
           CASE WHEN s.offline THEN s.created_at - make_interval(mins => (s.n % 240)::int) END,
           s.kind, CASE WHEN s.kind = 'return' THEN -s.amount ELSE s.amount END,
           encode(sha256(convert_to('sale ' || s.n, 'UTF8')), 'hex'), b.received_at,
           CASE WHEN s.n % 13 = 0 THEN 'reviewed' ELSE 'open' END
    FROM (
        SELECT n, n % :tills AS till, n / :tills + 1 AS sequence, n % 5 = 0 AS offline,
               CAST(:start AS timestamp) + make_interval(secs => n * :gap) AS created_at,
               CASE WHEN n % 89 = 0 THEN 'void' WHEN n % 97 = 0 THEN 'return' ELSE 'sale' END
                   AS kind,
               ((n * 7919) % 20000 + 99)::numeric / 100 AS amount
        FROM generate_series(0::bigint, :sales - 1) n
    ) s
    JOIN till t ON t.till = s.till
    JOIN batch b ON b.till = s.till AND b.batch = (s.sequence - 1) / :batch
    """,
    """
    INSERT INTO pos_transaction_line (pos_transaction_id, line_number, product, quantity,
        unit_price, discount, tax_code, tax_amount, price_override)
    SELECT id, 1, 'P' || lpad((id * 31 % :products + 1)::text, 7, '0'), sign(total),
           abs(total) - tax, 0, 'TX-STATE', sign(total) * tax, offline AND id % 211 = 0
    FROM (SELECT id, total, offline, round(abs(total) * 0.0625 / 1.0625, 2) AS tax
          FROM pos_transaction) p
    """,
    """
    INSERT INTO pos_transaction_payment (pos_transaction_id, line_number, method, amount)
    SELECT id, 1, CASE WHEN id % 3 = 0 THEN 'cash' ELSE 'card' END, total FROM pos_transaction
    """,
    """
    INSERT INTO anomaly (kind, store_id, register_id, pos_transaction_id, message, detail,
        detected_at, review_status)
    SELECT a.kind, p.store_id, p.register_id, p.id, a.message, a.detail, p.received_at,
           CASE WHEN p.id % 7 = 0 THEN 'reviewed' ELSE 'open' END
    FROM pos_transaction p
    JOIN pos_transaction_line l ON l.pos_transaction_id = p.id
    CROSS JOIN LATERAL (
        SELECT * FROM (VALUES
            (p.kind = 'void', 'offline_void', 'Voided offline.',
             json_build_object('total', p.total::text)),
            (p.kind = 'return', 'offline_return', 'Returned offline.',
             json_build_object('total', p.total::text)),
            (l.price_override, 'price_override',
             'Price typed by the cashier offline on line(s) 1.',
             json_build_object('lines', json_build_array(json_build_object(
                 'line', 1, 'product', l.product, 'unit_price', l.unit_price::text)))),
            (p.created_at - p.offline_since > interval '180 minutes', 'long_offline',
             'Made after ' || extract(epoch FROM p.created_at - p.offline_since)::int / 60
                 || ' min offline; the profile allows 180 minutes.',
             json_build_object('offline_minutes',
                 extract(epoch FROM p.created_at - p.offline_since)::int / 60,
                 'max_offline_minutes', 180))
        ) found (applies, kind, message, detail)
        WHERE applies
    ) a
    WHERE p.offline
    ORDER BY p.received_at, p.id
    """,
)
