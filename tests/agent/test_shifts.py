"""`portal-agent close-shift` against a live portal: statements chained and reconciled at HQ."""

import sqlalchemy as sa

from portal.agent.local import LocalState
from portal.auditor.models import Anomaly
from portal.core.extensions import db
from portal.transactions.models import ShiftStatement


def statements() -> list[ShiftStatement]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ShiftStatement).order_by(ShiftStatement.id)))


def test_a_closed_shift_reconciles_once_its_sales_arrive(agent, activated):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    assert agent("sell", "--count", "3", "--offline", "--seed", "4")[0] == 0
    # Closed before its sales were uploaded: HQ says which are missing, and for how much.
    code, out, err = agent("close-shift", "--shift-id", "day-1")
    assert code == 0, err
    assert "Shift day-1 sent: accepted, sales_missing at HQ." in out
    (first,) = statements()
    assert (first.first_sequence, first.last_sequence, first.missing) == (1, 3, [1, 2, 3])
    assert first.unaccounted == first.total > 0

    assert agent("upload")[0] == 0
    (first,) = statements()
    assert first.state == "reconciled" and first.unaccounted == 0
    assert first.sales_digest and "sales_digest" not in first.differences

    # A lost sale (a skipped number) in the next shift, chained to the first.
    assert agent("sell", "--count", "2", "--offline", "--skip", "1", "--seed", "5")[0] == 0
    assert agent("upload")[0] == 0
    code, out, err = agent("close-shift", "--shift-id", "day-2")
    assert code == 0, err
    second = statements()[1]
    assert second.previous_hash == first.statement_hash and not second.chain_broken
    assert (second.first_sequence, second.last_sequence, second.missing) == (4, 6, [4])
    kinds = set(db.session.scalars(sa.select(Anomaly.kind).where(Anomaly.cleared_at.is_(None))))
    assert "statement_sales_missing" in kinds

    assert agent("close-shift")[0] == 2  # nothing sold since


def test_a_statement_hq_did_not_get_is_sent_first_next_time(agent, activated, live_url):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    assert agent("sell", "--count", "1", "--seed", "6")[0] == 0
    # The portal is unreachable: the statement stays here.
    code, _, _ = agent("--url", "http://127.0.0.1:9", "--retries", "0", "close-shift")
    assert code == 3 and statements() == []
    state = LocalState(agent.state_file)
    state.put(url=live_url)
    state.close()
    assert agent("sell", "--count", "1", "--seed", "7")[0] == 0
    code, out, err = agent("upload")
    code, out, err = agent("close-shift", "--shift-id", "late")
    assert code == 0, err
    first, second = statements()
    assert second.shift_id == "late" and second.previous_hash == first.statement_hash
    assert [s.state for s in statements()] == ["reconciled", "reconciled"]
