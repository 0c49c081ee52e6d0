"""Upload ingestion: sales in batches of 500 through the device API, against a raw bulk insert.

The uploads go through the whole endpoint in process (token check, JSON parsing with exact
decimals, every check, the exactly-once inserts, the stored response) on PostgreSQL. The
baseline inserts the same rows (an upload session per batch, the transactions, their lines and
payments), already typed and checked, the fastest plain way (`_RawInsert`), as sales of twin
registers of the same store.

Each batch is uploaded, then inserted raw, then the next: both meet the same tables at the same
size and the machine in the same state. Measured one after the other, the two swung apart with
the machine's speed (the ratio ran 0.43 to 0.67 for the same code; bench/RESULTS.md).
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
# The baseline's registers: BENCH-T1 for BENCH-1 and so on.
TWIN = "T"
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
        baseline = _RawInsert(batches)
        _freeze()

        step(f"first upload: {len(bodies)} batches of {MAX_TRANSACTIONS}, each then inserted raw")
        first = raw = 0.0
        for index, body in enumerate(bodies):
            first += _post(client, index, body, headers, keyed=True, expect="accepted")
            raw += baseline.insert(index)
        rows = _row_counts()
        assert _sales_of(f"{STORE}-%") == 2 * _sales_of(f"{STORE}-{TWIN}%"), "unequal rows"
        step("replay of every batch with its Idempotency-Key")
        replay = _post_all(client, bodies, headers, keyed=True, expect="accepted")
        assert _row_counts() == rows, "a replay added rows"
        step("resend of every batch without a key")
        resend = _post_all(client, bodies, headers, keyed=False, expect="duplicate")
        sessions = rows["upload_session"] + len(bodies)
        assert _row_counts() == rows | {"upload_session": sessions}, "a resend added rows"
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
    """A store with its registers and their twins, and the Bearer headers of its store server's
    device."""
    fixtures.catalogue(0, STORE)
    for number in range(1, REGISTERS + 1):
        for name in (f"{STORE}-{number}", f"{STORE}-{TWIN}{number}"):
            registers.create_register({"register_number": name, "store": STORE})
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
    return sum(
        _post(client, index, body, headers, keyed, expect) for index, body in enumerate(bodies)
    )


def _post(client, index: int, body: bytes, headers: dict, keyed: bool, expect: str) -> float:
    """Seconds to post a batch; each transaction must come back with `expect`."""
    key = {"Idempotency-Key": f"bench-{index}"} if keyed else {}
    started = time.perf_counter()
    response = client.post(UPLOAD, data=body, headers=headers | key)
    took = time.perf_counter() - started
    assert response.status_code == 200, response.text
    counts = response.json["counts"]
    assert counts[expect] == sum(counts.values()), counts
    return took


class _RawInsert:
    """The baseline: each batch's rows written straight through the driver, a commit per batch.

    The fastest plain way to load them: the transactions in one INSERT ... SELECT FROM
    unnest(arrays) (their ids are needed for the lines), the lines and payments with COPY.
    The sales are the batch's, each made by its register's twin (so they clash with nothing).
    """

    def __init__(self, batches: list[list[dict]]) -> None:
        # Typed and checked beforehand: the baseline is the writing alone.
        self._batches = [[validation.check(_twin(sale))[0] for sale in batch] for batch in batches]
        self._database_id = stores.get_store(STORE).channel_database.id
        self._register_ids = dict(
            db.session.execute(sa.select(Register.register_number, Register.id)).all()
        )
        self._store_id = stores.get_store(STORE).id
        db.session.commit()

    def insert(self, index: int) -> float:
        """Seconds to write the rows of batch `index`."""
        batch, register_ids = self._batches[index], self._register_ids
        raw = db.session.connection().connection.dbapi_connection
        started = time.perf_counter()
        now = datetime.now(UTC).replace(tzinfo=None)
        with raw.cursor() as cursor:
            cursor.execute(
                "INSERT INTO upload_session (channel_database_id, request_sha256, status, "
                "received_at, transactions, accepted, duplicates, rejected, conflicts, message) "
                "VALUES (%s, %s, 'applied', %s, 0, 0, 0, 0, 0, '') RETURNING id",
                (self._database_id, "0" * 64, now),
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
                    [self._store_id] * len(batch),
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


def _twin(sale: dict) -> dict:
    """The sale as its register's twin made it: BENCH-1's as BENCH-T1's."""
    return sale | {"register": sale["register"].replace(f"{STORE}-", f"{STORE}-{TWIN}")}


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


def _sales_of(registers: str) -> int:
    """Transactions, lines and payments of the registers whose numbers are LIKE `registers`."""
    t = PosTransaction
    mine = sa.select(t.id).join(Register, Register.id == t.register_id)
    mine = mine.where(Register.register_number.like(registers))
    return sum(
        db.session.scalar(sa.select(sa.func.count()).select_from(model).where(column.in_(mine)))
        for model, column in (
            (t, t.id),
            (TransactionLine, TransactionLine.pos_transaction_id),
            (TransactionPayment, TransactionPayment.pos_transaction_id),
        )
    )
