"""Uploads past a sale HQ cannot take: the rest arrive once each, the culprit is set aside.

The agent talks HTTP to the live portal through a proxy on loopback that fails the requests
carrying a chosen sale (tests/agent/faulty.py); everything else reaches the real portal.
"""

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.agent.local import LocalState
from portal.core.extensions import db
from portal.transactions.models import PosTransaction, UploadSession


@pytest.fixture
def register(agent, activated):
    """SEATTLE-1's agent, synced; `register(n)` sells n offline sales there."""
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0

    def sell(count: int) -> None:
        assert agent("sell", "--count", str(count), "--offline")[0] == 0

    return sell


def ids_by_receipt(state_file: Path) -> dict[str, str]:
    """The local sales' transaction ids, by receipt number."""
    state = LocalState(state_file)
    try:
        rows = state.conn.execute(
            "SELECT json_extract(payload, '$.receipt_number'), transaction_id "
            "FROM agent_transaction ORDER BY sequence"
        ).fetchall()
        return {receipt: tid for receipt, tid in rows}
    finally:
        state.close()


def local_statuses(state_file: Path) -> dict[str, str]:
    """Each local sale's upload status, by receipt number."""
    state = LocalState(state_file)
    try:
        rows = state.conn.execute(
            "SELECT json_extract(payload, '$.receipt_number'), status FROM agent_transaction"
        ).fetchall()
        return dict(rows)
    finally:
        state.close()


def copies_at_hq(transaction_ids) -> dict[str, int]:
    """How many times HQ stored each of these sales."""
    db.session.expire_all()
    rows = db.session.execute(
        sa.select(PosTransaction.transaction_id, sa.func.count())
        .where(PosTransaction.transaction_id.in_(list(transaction_ids)))
        .group_by(PosTransaction.transaction_id)
    ).all()
    return {str(tid): n for tid, n in rows}


def carrying(*transaction_ids: str, without: tuple[str, ...] = ()):
    """A rule's match: upload bodies holding every one of these sales and none of `without`."""

    def matches(path: str, body: bytes) -> bool:
        return all(t.encode() in body for t in transaction_ids) and not any(
            t.encode() in body for t in without
        )

    return matches


@pytest.mark.parametrize("status", [500, 422])
def test_a_sale_hq_keeps_failing_on_is_set_aside_and_the_rest_arrive_once(
    agent, register, proxy, status
):
    faulty, url = proxy
    register(6)
    ids = ids_by_receipt(agent.state_file)
    poison = ids["SEATTLE-1-000003"]
    faulty.fail(carrying(poison), status)

    code, out, err = agent("--url", url, "--retries", "1", "upload", "--batch-size", "4")

    assert code == 1
    assert "5 accepted, 0 duplicate, 0 rejected, 0 conflict, 1 set aside" in out
    assert f"HQ failed on sale SEATTLE-1-000003 alone: HQ answered {status}" in out
    assert "SEATTLE-1-000003 set_aside" in err and "upload --include-refused" in err
    good = [tid for tid in ids.values() if tid != poison]
    assert copies_at_hq(ids.values()) == dict.fromkeys(good, 1)
    assert local_statuses(agent.state_file)["SEATTLE-1-000003"] == "set_aside"

    report = json.loads(agent("status", "--json", "--no-heartbeat")[1])
    assert report["kept"]["count"] == 1
    (kept,) = report["kept"]["sales"]
    assert (kept["receipt_number"], kept["status"]) == ("SEATTLE-1-000003", "set_aside")
    assert kept["errors"]["upload"].startswith(f"HQ answered {status}: Failed on purpose")
    shown = agent("status", "--no-heartbeat")[1]
    assert "Kept here:  1 sale(s) HQ refused or kept failing on" in shown
    assert "SEATTLE-1-000003 set_aside: {'upload': 'HQ answered" in shown

    # Not sent again by itself: newer sales go up on their own.
    sent = faulty.sales_sent(poison)
    register(2)
    code, out, err = agent("--url", url, "upload")
    assert code == 0, err
    assert "2 accepted, 0 duplicate, 0 rejected, 0 conflict, 0 set aside" in out
    assert faulty.sales_sent(poison) == sent
    assert len(copies_at_hq(ids_by_receipt(agent.state_file).values())) == 7

    # HQ fixed: a person sends it again.
    faulty.rules.clear()
    code, out, err = agent("--url", url, "upload", "--include-refused")
    assert code == 0, err
    assert "1 accepted" in out
    assert copies_at_hq([poison]) == {poison: 1}
    report = json.loads(agent("status", "--json", "--no-heartbeat")[1])
    assert report["kept"] == {"count": 0, "sales": []} and report["pending_uploads"] == 0


def test_a_sale_hq_rejects_is_not_sent_again_and_newer_sales_go_on(agent, register, proxy):
    faulty, url = proxy
    register(3)
    state = LocalState(agent.state_file)
    state.conn.execute(
        "UPDATE agent_transaction SET payload = json_set(payload, '$.total', '0.01') "
        "WHERE sequence = 2"
    )
    state.close()
    rejected = ids_by_receipt(agent.state_file)["SEATTLE-1-000002"]

    code, out, err = agent("--url", url, "upload")
    assert code == 1
    assert "2 accepted, 0 duplicate, 1 rejected, 0 conflict, 0 set aside" in out
    assert faulty.sales_sent(rejected) == 1

    register(2)
    code, out, err = agent("--url", url, "upload")

    assert code == 0, err
    assert "2 accepted, 0 duplicate, 0 rejected, 0 conflict" in out
    assert faulty.sales_sent(rejected) == 1
    shown = agent("status", "--no-heartbeat")[1]
    assert "Kept here:  1 sale(s)" in shown
    assert "SEATTLE-1-000002 rejected: {" in shown and "not 0.0100" in shown
    assert copies_at_hq([rejected]) == {}


def test_a_failure_that_clears_on_the_next_try_sets_nothing_aside(agent, register, proxy):
    faulty, url = proxy
    register(4)
    ids = ids_by_receipt(agent.state_file)
    faulty.fail(carrying(ids["SEATTLE-1-000002"]), 500, times=1)

    code, out, err = agent("--url", url, "upload")

    assert code == 0, err
    assert "4 accepted, 0 duplicate, 0 rejected, 0 conflict, 0 set aside" in out
    assert [e.status for e in faulty.uploads()] == [500, 200]
    assert copies_at_hq(ids.values()) == dict.fromkeys(ids.values(), 1)


def test_a_sale_failing_once_while_a_culprit_is_sought_is_not_set_aside(agent, register, proxy):
    faulty, url = proxy
    register(4)
    ids = ids_by_receipt(agent.state_file)
    poison, unlucky = ids["SEATTLE-1-000003"], ids["SEATTLE-1-000004"]
    faulty.fail(carrying(poison), 500)
    faulty.fail(carrying(unlucky, without=(poison,)), 503, times=1)

    code, out, _ = agent("--url", url, "--retries", "1", "upload")

    assert code == 1
    assert "3 accepted, 0 duplicate, 0 rejected, 0 conflict, 1 set aside" in out
    statuses = local_statuses(agent.state_file)
    assert statuses["SEATTLE-1-000004"] == "accepted"
    assert statuses["SEATTLE-1-000003"] == "set_aside"
    assert copies_at_hq(ids.values()) == {t: 1 for t in ids.values() if t != poison}


def test_a_split_batch_retried_after_a_lost_answer_is_replayed_not_stored_twice(
    agent, register, proxy
):
    faulty, url = proxy
    register(4)
    ids = ids_by_receipt(agent.state_file)
    first, poison = ids["SEATTLE-1-000001"], ids["SEATTLE-1-000003"]
    faulty.fail(carrying(poison), 500)
    # HQ stores the first half, but its answer is lost on the way back.
    faulty.fail(carrying(first, without=(poison,)), 502, times=1, forward=True)

    code, out, _ = agent("--url", url, "--retries", "1", "upload")

    assert code == 1
    assert "3 accepted, 0 duplicate, 0 rejected, 0 conflict, 1 set aside" in out
    posts = faulty.uploads()
    whole, lost, replayed = posts[0], posts[2], posts[3]
    assert (lost.status, replayed.status, replayed.replayed) == (502, 200, True)
    assert lost.key == replayed.key and lost.body == replayed.body
    # Each part of a split batch is another body, under another key.
    assert len({e.key for e in posts}) == 5  # whole, two halves, then the second half's two
    assert whole.key != lost.key
    assert copies_at_hq(ids.values()) == {t: 1 for t in ids.values() if t != poison}
    db.session.expire_all()
    sessions = db.session.scalars(
        sa.select(UploadSession).where(UploadSession.idempotency_key == lost.key)
    ).all()
    assert len(sessions) == 1


@pytest.mark.parametrize(
    ("failing", "status", "requests"),
    [
        # Down: the batch, then a probe that fails too.
        ("/device/", 500, 1),
        # Failing on every upload only: 8 sales, 4, 2, 1, 1, 2, 1 tried, then it stops.
        ("/device/transactions", 500, 7),
        # Busy: the batch, as before.
        ("/device/transactions", 503, 1),
    ],
    ids=["hq-down", "uploads-broken", "uploads-busy"],
)
def test_hq_failing_on_every_sale_sets_nothing_aside(
    agent, register, proxy, failing, status, requests
):
    faulty, url = proxy
    register(8)
    faulty.fail(lambda path, body: failing in path, status)

    code, _, err = agent("--url", url, "--retries", "1", "upload", "--batch-size", "8")

    assert code == 3
    assert f"kept failing ({status}: Failed on purpose with {status}.)" in err
    assert set(local_statuses(agent.state_file).values()) == {"pending"}
    # Each request is tried twice (--retries 1).
    assert len(faulty.uploads()) == 2 * requests

    faulty.rules.clear()
    register(1)
    code, out, err = agent("--url", url, "upload", "--batch-size", "8")
    assert code == 0, err
    assert "9 accepted" in out
    ids = ids_by_receipt(agent.state_file)
    assert copies_at_hq(ids.values()) == dict.fromkeys(ids.values(), 1)
