"""A batch larger than a part (`ingest.PART`): checked and inserted part by part in (register,
id) order, with the same outcomes as a batch handled whole: each sale stored once, the first
good copy in the batch's order stored wherever the parts' bounds fall."""

import uuid

import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.transactions.ingest import PART
from portal.transactions.models import PosTransaction, TransactionConflict, TransactionLine
from tests.transactions.conftest import sale, send

pytestmark = pytest.mark.usefixtures("app_ctx")


def numbered(position: int, register: str = "HOUSTON-1") -> dict:
    """A sale whose id sorts at `position` among the register's sales of these tests."""
    return sale(
        transaction_id=str(uuid.UUID(int=position + 1)),
        register=register,
        sequence=position + 1,
        receipt_number=f"{register}-{position + 1:06d}",
    )


def stored_ids() -> list[str]:
    db.session.expire_all()
    return sorted(db.session.scalars(sa.select(PosTransaction.transaction_id)))


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_copies_of_a_sale_across_a_part_bound_keep_the_batch_order(client, store_device):
    # The copies sort together, at the end of the first part and the start of the second.
    bound = PART - 1
    good = numbered(bound)
    copies = [
        good | {"sequence": 0},  # rejected: the next good copy is the one stored
        good,
        good,
        good | {"staff": "000999"},
    ]
    others = [numbered(p) for p in range(2 * PART + 10) if p != bound]
    # Sent in reverse order of id: the batch's order is not the insert's.
    batch = copies[:2] + others[::-1] + copies[2:]

    response = send(client, store_device, *batch)

    statuses = [r["status"] for r in response["results"]]
    assert statuses[:2] == ["rejected", "accepted"]
    assert statuses[-2:] == ["duplicate", "conflict"]
    assert set(statuses[2:-2]) == {"accepted"}
    assert response["counts"] == {
        "accepted": len(others) + 1,
        "duplicate": 1,
        "rejected": 1,
        "conflict": 1,
    }
    assert stored_ids() == sorted(s["transaction_id"] for s in [good, *others])
    assert count(TransactionLine) == len(others) + 1
    assert count(TransactionConflict) == 1


def test_a_sale_the_checker_reads_takes_its_place_among_the_parts(client, store_device):
    # Not plain: an upper-case id and a register with spaces go to the checker, which stores
    # them as the plain copies' sales; the first copy in the batch's order still wins.
    upper = numbered(PART + 5)
    spaced = numbered(PART + 7, "HOUSTON-2")
    batch = [numbered(p) for p in range(2 * PART) if p != PART + 5]
    batch = [
        upper | {"transaction_id": upper["transaction_id"].upper()},
        *batch,
        upper,
        spaced | {"register": " houston-2 "},
        spaced,
    ]

    response = send(client, store_device, *batch)

    statuses = [r["status"] for r in response["results"]]
    assert statuses[0] == "accepted"
    assert response["results"][0]["transaction_id"] == upper["transaction_id"]
    assert statuses[-3:] == ["duplicate", "accepted", "duplicate"]
    assert response["counts"]["accepted"] == 2 * PART + 1
    assert len(stored_ids()) == 2 * PART + 1


@pytest.mark.parametrize(
    "register",
    ["HOUSTON-1\x00", "\ud800", "HOUSTON-1" + "\u0301", "DALLAS-1", "NOWHERE-9", "x" * 31],
)
def test_a_register_the_device_cannot_upload_for_rejects_that_sale_alone(
    client, store_device, register
):
    batch = [numbered(p) for p in range(PART + 20)]
    batch[PART] = batch[PART] | {"register": register}

    response = send(client, store_device, *batch)

    assert response["counts"]["accepted"] == PART + 19
    rejected = response["results"][PART]
    assert rejected["status"] == "rejected"
    assert set(rejected["errors"]) == {"register"}
    assert len(stored_ids()) == PART + 19
