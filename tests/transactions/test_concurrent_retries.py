"""Two connections sending the same batch at the same moment store every sale once."""

import threading

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.transactions.models import (
    PosTransaction,
    TransactionConflict,
    TransactionLine,
    TransactionPayment,
    UploadSession,
)
from tests.transactions.conftest import UPLOAD, sale

pytestmark = pytest.mark.usefixtures("app_ctx")

BATCH_SIZE = 200
ROUNDS = 5


@pytest.fixture(autouse=True)
def _postgresql_only(app_ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time; concurrent retries need PostgreSQL")


def send_together(app, headers: list[dict], batch: list[dict] | list[list[dict]]) -> list:
    """Post the batch from one thread (with its own connection) per headers, all at once (a
    list of batches: each thread its own)."""
    batches = batch if batch and isinstance(batch[0], list) else [batch] * len(headers)
    start = threading.Barrier(len(headers))
    responses = [None] * len(headers)

    def send(index: int) -> None:
        client = app.test_client()
        start.wait()
        responses[index] = client.post(
            UPLOAD, json={"transactions": batches[index]}, headers=headers[index]
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(headers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return responses


def count(model) -> int:
    """How many rows of this model exist."""
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def batch_of(size: int) -> list[dict]:
    """Sales with a line and a payment each."""
    return [sale(sequence=n) for n in range(1, size + 1)]


def overlapped(responses) -> bool:
    """Whether each request started before the other finished: they really ran together."""
    db.session.expire_all()
    sessions = [db.session.get(UploadSession, r.json["upload_session"]) for r in responses]
    return max(s.received_at for s in sessions) < min(s.finished_at for s in sessions)


def test_the_same_batch_twice_at_once_stores_each_sale_once(app, register_device):
    overlaps = 0
    for round_number in range(1, ROUNDS + 1):
        batch = batch_of(BATCH_SIZE)

        responses = send_together(app, [register_device, register_device], batch)

        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        counts = [r.json["counts"] for r in responses]
        assert sum(c["accepted"] for c in counts) == BATCH_SIZE
        assert sum(c["duplicate"] for c in counts) == BATCH_SIZE
        assert not any(c["conflict"] or c["rejected"] for c in counts)
        stored = BATCH_SIZE * round_number
        assert count(PosTransaction) == count(TransactionLine) == stored
        assert count(TransactionPayment) == stored
        overlaps += overlapped(responses)
    assert count(TransactionConflict) == 0
    assert overlaps, "the requests never ran at the same time"


def test_the_same_sales_in_another_order_at_once_store_each_once_without_deadlock(
    app, register_device
):
    # Each batch inserts its sales part by part in (register, id) order, whatever the order
    # they came in: neither holds a sale the other waits for while waiting for one it holds.
    batch = batch_of(BATCH_SIZE)

    responses = send_together(app, [register_device, register_device], [batch, batch[::-1]])

    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    counts = [r.json["counts"] for r in responses]
    assert sum(c["accepted"] for c in counts) == BATCH_SIZE
    assert sum(c["duplicate"] for c in counts) == BATCH_SIZE
    assert count(PosTransaction) == count(TransactionLine) == BATCH_SIZE


def test_the_same_keyed_batch_twice_at_once_is_processed_once(app, register_device):
    headers = register_device | {"Idempotency-Key": "batch-1"}
    batch = batch_of(BATCH_SIZE)

    responses = send_together(app, [headers, headers], batch)

    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert responses[0].data == responses[1].data
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert responses[0].json["counts"]["accepted"] == BATCH_SIZE
    assert count(UploadSession) == 1
    assert count(PosTransaction) == count(TransactionLine) == BATCH_SIZE


def test_the_same_conflict_twice_at_once_is_recorded_once(app, client, register_device):
    batch = batch_of(50)
    client.post(UPLOAD, json={"transactions": batch}, headers=register_device)
    changed = [item | {"staff": "000999"} for item in batch]

    responses = send_together(app, [register_device, register_device], changed)

    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert [r.json["counts"]["conflict"] for r in responses] == [50, 50]
    assert count(TransactionConflict) == 50
    assert overlapped(responses)
