"""The rules under uploads that run at the same moment: no gap missed, none counted twice."""

import threading

import pytest
import sqlalchemy as sa

from portal.auditor.models import RECEIPT_REUSED, SEQUENCE_GAP, Anomaly
from portal.core.extensions import db
from tests.auditor.test_rules import made, send
from tests.transactions.conftest import UPLOAD, device_headers, offline_database

pytestmark = pytest.mark.usefixtures("app_ctx")
ROUNDS = 4


@pytest.fixture(autouse=True)
def _postgresql_only(app_ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time; concurrent uploads need PostgreSQL")


def send_apart_together(app, headers: list[dict], batches: list[list[dict]]) -> None:
    """Each batch from its own thread and connection, all at once."""
    start = threading.Barrier(len(batches))
    statuses = [None] * len(batches)

    def post(index: int) -> None:
        client = app.test_client()
        start.wait()
        response = client.post(
            UPLOAD,
            json={"transactions": batches[index]},
            headers=headers[index],
        )
        statuses[index] = response.status_code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * len(batches)


def gaps() -> list[Anomaly]:
    """Every sequence gap found, cleared or not."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Anomaly).filter_by(kind=SEQUENCE_GAP)))


def missing() -> list[int]:
    """Every number the open gaps still miss, with repeats if two gaps counted one."""
    return sorted(n for gap in gaps() if gap.cleared_at is None for n in gap.detail["missing"])


def test_the_missing_sales_arriving_together_clear_the_gap(
    app, client, register_device, store_device
):
    for round_number in range(ROUNDS):
        base = round_number * 5
        send(client, register_device, *(made(sequence=base + n) for n in (1, 2, 5)))

        send_apart_together(
            app,
            [register_device, store_device],
            [[made(sequence=base + 3)], [made(sequence=base + 4)]],
        )

        assert missing() == []
    assert len(gaps()) == ROUNDS
    assert all(gap.cleared_at is not None for gap in gaps())


def test_sales_beyond_the_last_arriving_together_count_each_missing_number_once(
    app, client, register_device, store_device
):
    expected = []
    for round_number in range(ROUNDS):
        base = round_number * 6
        send(client, register_device, made(sequence=base + 1))

        send_apart_together(
            app,
            [register_device, store_device],
            [[made(sequence=base + 3)], [made(sequence=base + 6)]],
        )

        expected += [base + n for n in (2, 4, 5)]
        assert missing() == expected


def test_one_receipt_number_sent_twice_at_once_is_flagged_once(app, store_device):
    other = device_headers(offline_database("HOUSTON-2"))
    for round_number in range(1, ROUNDS + 1):
        receipt = f"R-{round_number}"

        send_apart_together(
            app,
            [store_device, other],
            [
                [made("HOUSTON-1", round_number, receipt_number=receipt)],
                [made("HOUSTON-2", round_number, receipt_number=receipt)],
            ],
        )

        db.session.expire_all()
        flagged = db.session.scalar(
            sa.select(sa.func.count()).select_from(Anomaly).filter_by(kind=RECEIPT_REUSED)
        )
        assert flagged == round_number
