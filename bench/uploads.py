"""Upload ingestion: sales in batches of 500 through the device API, against a raw bulk insert.

The uploads go through the whole endpoint in process (token check, JSON parsing with exact
decimals, every check, the exactly-once inserts, the stored response) on PostgreSQL. The
baseline inserts the same rows (an upload session per batch, the transactions, their lines and
payments), already typed and checked, into emptied tables the fastest plain way (`_raw_insert`).
"""

import gc
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import sqlalchemy as sa

from bench import fixtures
from bench.database import portal_on_fresh_database
from portal.auditor.models import Anomaly
from portal.core.extensions import db
from portal.device_api import credentials
from portal.setup.models import Register
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores
from portal.transactions import validation
from portal.transactions.batches import MAX_TRANSACTIONS
from portal.transactions.models import (
    PosTransaction,
    TransactionConflict,
    TransactionLine,
    TransactionPayment,
    UploadSession,
)

SALES = {"full": 10_000, "quick": 1_000}
UPLOAD = "/api/v1/device/transactions"
STORE = "BENCH"
REGISTERS = 4
CENT = Decimal("0.01")
TAX_RATE = Decimal("0.0625")
PRICES = [Decimal(p) for p in ("0.99", "1.49", "2.25", "4.99", "7.50", "12.99", "24.00", "89.95")]
CENTRAL = timezone(timedelta(hours=-6))
TRANSACTION_COLUMNS = (
    "transaction_id",
    "register_id",
    "store_id",
    "upload_session_id",
    "sequence",
    "receipt_number",
    "staff",
    "created_at",
    "utc_offset_minutes",
    "offline",
    "total",
    "content_sha256",
    "received_at",
)
TABLES = (
    Anomaly,
    TransactionConflict,
    TransactionPayment,
    TransactionLine,
    PosTransaction,
    UploadSession,
)


def upload_benchmarks(count: int, scratch: Path, step) -> list[tuple]:
    """Time a first upload of `count` sales, its replay and a resend, and the raw baseline."""
    with portal_on_fresh_database("uploads", str(scratch / "uploads")) as app:
        headers = _store_server()
        step(f"uploads: making {count:,} sales")
        batches = [
            [_sale(n, random.Random(n)) for n in range(start, min(start + MAX_TRANSACTIONS, count))]
            for start in range(0, count, MAX_TRANSACTIONS)
        ]
        bodies = [json.dumps({"transactions": batch}).encode() for batch in batches]
        lines = sum(len(sale["lines"]) for batch in batches for sale in batch)
        client = app.test_client()
        _freeze()

        step(f"first upload: {len(bodies)} batches of {MAX_TRANSACTIONS}")
        first = _post_all(client, bodies, headers, keyed=True, expect="accepted")
        rows = _row_counts()
        step("replay of every batch with its Idempotency-Key")
        replay = _post_all(client, bodies, headers, keyed=True, expect="accepted")
        assert _row_counts() == rows, "a replay added rows"
        step("resend of every batch without a key")
        resend = _post_all(client, bodies, headers, keyed=False, expect="duplicate")
        assert _row_counts() == rows | {"upload_session": 2 * len(bodies)}, "a resend added rows"

        _empty()
        step("raw bulk insert baseline")
        raw = _raw_insert(batches)
        assert _row_counts() == rows, "the baseline inserted other rows"
        db.session.remove()
    return [
        (
            f"upload of {count:,} sales ({lines:,} lines) in batches of {MAX_TRANSACTIONS}",
            f"{count / first:,.0f} sales/s",
            f"{count / raw:,.0f} sales/s (raw bulk INSERT)",
            f"{raw / first:.2f}",
            "≥ 0.6",
        ),
        (
            "replay of every batch (same Idempotency-Key), 0 rows added",
            f"{replay * 1000:,.0f} ms",
            f"{first * 1000:,.0f} ms (first upload)",
            f"{replay / first:.2f}",
            "≤ 0.2",
        ),
        (
            "resend of every batch without a key (all duplicates), 0 rows added",
            f"{resend * 1000:,.0f} ms",
            f"{first * 1000:,.0f} ms (first upload)",
            f"{resend / first:.2f}",
            "(none)",
        ),
    ]


def _store_server() -> dict[str, str]:
    """A store with its registers, and the Bearer headers of its store server's device."""
    fixtures.catalogue(0, STORE)
    for number in range(1, REGISTERS + 1):
        registers.create_register({"register_number": f"{STORE}-{number}", "store": STORE})
    database = stores.get_store(STORE).channel_database
    _, code = credentials.issue_activation_code(database)
    _, secret, _ = credentials.activate(database.id, code)
    db.session.commit()
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def _sale(number: int, rng: random.Random) -> dict:
    """A plausible sale: 1 to 9 lines (5 on average), tax on top, paid by card or split."""
    lines, total = [], Decimal(0)
    for _ in range(rng.randint(1, 9)):
        quantity = Decimal(rng.choice((1, 1, 1, 2, 3)))
        price = rng.choice(PRICES)
        discount = (quantity * price * Decimal("0.10")).quantize(CENT) if rng.random() < 0.1 else 0
        amount = quantity * price - discount
        tax = (amount * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
        total += amount + tax
        lines.append(
            {
                "product": f"P-{rng.randint(1, 50_000):06d}",
                "quantity": str(quantity),
                "unit_price": str(price),
                "discount": str(discount),
                "tax_code": "TX-STATE",
                "tax_amount": str(tax),
            }
        )
    cash = min(total, Decimal(rng.choice((0, 0, 5, 10)))) if rng.random() < 0.3 else Decimal(0)
    payments = [{"method": "card", "amount": str(total - cash)}]
    if cash:
        payments.append({"method": "cash", "amount": str(cash)})
    register = number % REGISTERS + 1
    sequence = number // REGISTERS + 1
    created = datetime(2026, 11, 20, 9, tzinfo=UTC) + timedelta(seconds=37 * number)
    return {
        "transaction_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "register": f"{STORE}-{register}",
        "sequence": sequence,
        "receipt_number": f"{STORE}-{register}-{sequence:06d}",
        "staff": f"{rng.randint(1, 40):06d}",
        "created_at": created.astimezone(CENTRAL).isoformat(),
        "offline": rng.random() < 0.2,
        "lines": lines,
        "payments": payments,
        "total": str(total),
    }


def _post_all(client, bodies: list[bytes], headers: dict, keyed: bool, expect: str) -> float:
    """Seconds to post every batch; each transaction must come back with `expect`."""
    started = time.perf_counter()
    for index, body in enumerate(bodies):
        key = {"Idempotency-Key": f"bench-{index}"} if keyed else {}
        response = client.post(UPLOAD, data=body, headers=headers | key)
        assert response.status_code == 200, response.text
        counts = response.json["counts"]
        assert counts[expect] == sum(counts.values()), counts
    return time.perf_counter() - started


def _raw_insert(batches: list[list[dict]]) -> float:
    """Seconds to write the same rows straight through the driver, a commit per batch.

    The fastest plain way to load them: the transactions in one INSERT ... SELECT FROM
    unnest(arrays) (their ids are needed for the lines), the lines and payments with COPY.
    """
    database_id = stores.get_store(STORE).channel_database.id
    register_ids = dict(db.session.execute(sa.select(Register.register_number, Register.id)).all())
    store_id = stores.get_store(STORE).id
    # Typed and checked beforehand: the baseline is the writing alone.
    typed = [[validation.check(sale)[0] for sale in batch] for batch in batches]
    db.session.commit()
    _freeze()
    raw = db.session.connection().connection.dbapi_connection
    started = time.perf_counter()
    for batch in typed:
        now = datetime.now(UTC).replace(tzinfo=None)
        with raw.cursor() as cursor:
            cursor.execute(
                "INSERT INTO upload_session (channel_database_id, request_sha256, status, "
                "received_at, transactions, accepted, duplicates, rejected, conflicts, message) "
                "VALUES (%s, %s, 'applied', %s, 0, 0, 0, 0, 0, '') RETURNING id",
                (database_id, "0" * 64, now),
            )
            session_id = cursor.fetchone()[0]
            cursor.execute(
                f"INSERT INTO pos_transaction ({', '.join(TRANSACTION_COLUMNS)}) "
                "SELECT * FROM unnest(%s::varchar[], %s::int[], %s::int[], %s::int[], "
                "%s::bigint[], %s::varchar[], %s::varchar[], %s::timestamp[], %s::int[], "
                "%s::bool[], %s::numeric[], %s::varchar[], %s::timestamp[]) "
                "RETURNING transaction_id, id",
                [
                    [s.transaction_id for s in batch],
                    [register_ids[s.register] for s in batch],
                    [store_id] * len(batch),
                    [session_id] * len(batch),
                    [s.sequence for s in batch],
                    [s.receipt_number for s in batch],
                    [s.staff for s in batch],
                    [s.created_at.replace(tzinfo=None) for s in batch],
                    [s.utc_offset_minutes for s in batch],
                    [s.offline for s in batch],
                    [s.total for s in batch],
                    [s.content_sha256 for s in batch],
                    [now] * len(batch),
                ],
            )
            ids = dict(cursor.fetchall())
            with cursor.copy(
                "COPY pos_transaction_line (pos_transaction_id, line_number, product, quantity, "
                "unit_price, discount, tax_code, tax_amount, price_override) FROM STDIN"
            ) as copy:
                for sale in batch:
                    for n, line in enumerate(sale.lines, 1):
                        copy.write_row((ids[sale.transaction_id], n, *line.values()))
            with cursor.copy(
                "COPY pos_transaction_payment (pos_transaction_id, line_number, method, amount) "
                "FROM STDIN"
            ) as copy:
                for sale in batch:
                    for n, payment in enumerate(sale.payments, 1):
                        copy.write_row((ids[sale.transaction_id], n, *payment.values()))
        raw.commit()
    return time.perf_counter() - started


def _freeze() -> None:
    """Keep the benchmark's own data out of the garbage collector's way.

    Collections scan every live object; the sales held here for the whole run would make the
    measured code pay for them, which a server holding only its request does not.
    """
    gc.collect()
    gc.freeze()


def _row_counts() -> dict[str, int]:
    db.session.commit()
    return {
        model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in TABLES
    }


def _empty() -> None:
    """Empty the upload tables, so the baseline inserts into the same empty tables."""
    names = ", ".join(model.__tablename__ for model in TABLES)
    db.session.execute(sa.text(f"TRUNCATE {names}"))
    db.session.execute(sa.text("UPDATE device_status SET last_upload_at = NULL"))
    db.session.commit()
