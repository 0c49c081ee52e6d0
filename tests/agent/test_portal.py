"""The agent against a live portal: real HTTP, real databases at both ends."""

import json
import socket
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from portal.agent import sync
from portal.agent import upload as uploads
from portal.agent.apply import apply_package
from portal.agent.client import PortalClient
from portal.agent.local import LocalState
from portal.auditor.models import Anomaly
from portal.core.extensions import db
from portal.device_api import credentials
from portal.device_api.models import DeviceStatus
from portal.distribution.models import (
    SESSION_APPLIED,
    SESSION_AVAILABLE,
)
from portal.masterdata.products import Product
from portal.setup.models import Register
from portal.transactions.models import (
    PosTransaction,
    TransactionLine,
    TransactionPayment,
    UploadSession,
)
from tests.agent.portal import (
    change_master_data,
    database_named,
    hq_scope,
    issue_code,
    keyed,
    package_file,
    run_every_schedule,
)
from tests.device_api.conftest import sessions_of


def agent_tables(state_file: Path) -> dict[str, dict[tuple, dict]]:
    """The agent's data tables, by key."""
    state = LocalState(state_file)
    try:
        return {t: keyed(state.table_spec(t)["key"], state.rows(t)) for t in state.tables()}
    finally:
        state.close()


def assert_same_as_hq(state_file: Path, database: str, folder: Path) -> dict:
    expected = hq_scope(database, folder)
    actual = agent_tables(state_file)
    assert sorted(actual) == sorted(expected)
    for table in expected:
        assert actual[table] == expected[table], f"table {table} differs"
    return actual


def status_of(name: str) -> DeviceStatus:
    db.session.expire_all()
    return db.session.get(DeviceStatus, database_named(name).id)


def test_activation_keeps_the_token_and_the_configuration(agent, live_url, hq):
    code = issue_code("SEATTLE-1")

    wrong = agent("--url", live_url, "activate", "--database", "SEATTLE-1", "--code", "WRONG")
    assert wrong[0] == 4 and "The activation code is wrong" in wrong[2]

    code_, out, err = agent(
        "--url", live_url, "activate", "--database", "SEATTLE-1", "--code", code
    )
    assert code_ == 0, err
    assert "Activated SEATTLE-1 (offline; store SEATTLE, register SEATTLE-1)" in out

    again = agent("--url", live_url, "activate", "--database", "SEATTLE-1", "--code", code)
    assert again[0] == 1 and "already used" in again[2]
    other = agent("activate", "--database", "HOUSTON-1", "--code", issue_code("HOUSTON-1"))
    assert other[0] == 2 and "belongs to SEATTLE-1" in other[2]

    status = json.loads(agent("status", "--json")[1])
    assert status["url"] == live_url and status["activated"]
    assert status["database"]["name"] == "SEATTLE-1"
    state = LocalState(agent.state_file)
    assert state.get("token").startswith("hqd_")
    assert state.get("config")["store"]["store_number"] == "SEATTLE"
    assert state.get("config")["offline_profile"]["name"] == "Standard offline"
    state.close()
    assert status_of("SEATTLE-1").mode == "online"


def test_sync_holds_exactly_what_hq_scopes_after_full_and_incremental_packages(
    agent, activated, tmp_path
):
    activated("SEATTLE-1")

    code, out, err = agent("sync")

    assert code == 0, err
    assert all(s.status == SESSION_APPLIED and s.kind == "full" for s in sessions_of("SEATTLE-1"))
    tables = assert_same_as_hq(agent.state_file, "SEATTLE-1", tmp_path)
    # Scoped, not everything: SEATTLE sells part of the catalogue, in its price group only.
    all_products = db.session.scalar(sa.select(sa.func.count()).select_from(Product))
    assert 0 < len(tables["product"]) < all_products
    assert {row["price_group"] for row in tables["trade_agreement"].values()} == {"RETAIL"}
    assert list(tables["store_settings"]) == [("SEATTLE",)]
    assert agent("sync")[1].startswith("No packages to apply")

    changed = change_master_data()
    run_every_schedule()
    code, out, err = agent("sync")

    assert code == 0, err
    assert "Applied incremental package" in out
    tables = assert_same_as_hq(agent.state_file, "SEATTLE-1", tmp_path)
    assert tables["product"][(changed["renamed"],)]["name"] == "Renamed at HQ"
    assert (changed["dropped"],) not in tables["product"]
    assert not [k for k in tables["trade_agreement"] if k[1] == changed["dropped"]]
    assert (changed["customer"],) not in tables["customer"]
    assert tables["tax_rate"][("WA-STATE", "2026-01-01")]["rate"] in ("7.0000", "7.00")
    # Jobs with nothing new for SEATTLE-1 made no package (no_data); the rest are applied.
    applied = [s for s in sessions_of("SEATTLE-1") if s.package_id is not None]
    assert {s.status for s in applied} == {SESSION_APPLIED}
    assert status_of("SEATTLE-1").last_applied_session_id == max(s.id for s in applied)


def test_offline_sales_are_stored_once_however_often_they_are_uploaded(agent, activated):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0

    code, out, err = agent("sell", "--count", "25", "--offline", "--seed", "1")
    assert code == 0, err
    assert "Recorded 25 offline sale(s) on register SEATTLE-1" in out
    assert agent("status")[0] == 0
    device = status_of("SEATTLE-1")
    assert (device.mode, device.pending_uploads) == ("offline", 25)
    assert device.offline_since is not None

    code, out, err = agent("upload", "--batch-size", "10")
    assert code == 0, err
    assert "25 accepted, 0 duplicate, 0 rejected, 0 conflict" in out
    stored = stored_sales("SEATTLE-1")
    assert stored == (25, lines_of(agent.state_file), 25)
    device = status_of("SEATTLE-1")
    assert (device.mode, device.pending_uploads) == ("online", 0)

    assert "0 accepted, 0 duplicate" in agent("upload")[1]
    # Killed after sending but before marking: every sale goes again, and HQ knows them all.
    state = LocalState(agent.state_file)
    state.conn.execute("UPDATE agent_transaction SET status = 'pending', uploaded_at = NULL")
    state.close()
    code, out, err = agent("upload", "--batch-size", "7")
    assert code == 0, err
    assert "0 accepted, 25 duplicate" in out
    assert stored_sales("SEATTLE-1") == stored

    transaction = db.session.scalar(sa.select(PosTransaction).order_by(PosTransaction.sequence))
    assert (transaction.sequence, transaction.receipt_number) == (1, "SEATTLE-1-000001")
    assert transaction.offline and transaction.staff
    assert sum(p.amount for p in transaction.payments) == transaction.total


def test_a_skipped_sequence_and_a_changed_resend_reach_the_auditors(agent, activated):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    assert agent("sell", "--count", "2", "--offline", "--seed", "2")[0] == 0
    assert agent("sell", "--count", "2", "--offline", "--skip", "1", "--seed", "3")[0] == 0
    assert agent("sell", "--count", "1", "--offline", "--price-change", "-10")[0] == 0
    assert agent("upload")[0] == 0

    replayed = agent("resend", "SEATTLE-1-000002")
    changed = agent("resend", "SEATTLE-1-000004", "--changed")

    assert replayed[0] == 0 and "SEATTLE-1-000002 sent again: duplicate." in replayed[1]
    assert changed[0] == 0 and "SEATTLE-1-000004 sent again: conflict" in changed[1]
    db.session.expire_all()
    sales = db.session.scalars(sa.select(PosTransaction).order_by(PosTransaction.sequence)).all()
    assert [sale.sequence for sale in sales] == [1, 2, 4, 5, 6]
    assert all(sale.offline and sale.offline_since is not None for sale in sales)
    found = {(a.kind, a.pos_transaction.sequence) for a in db.session.scalars(sa.select(Anomaly))}
    assert found == {("sequence_gap", 4), ("conflict", 4), ("price_mismatch", 6)}
    gap = db.session.scalar(sa.select(Anomaly).filter_by(kind="sequence_gap"))
    assert gap.detail["missing"] == [3] and gap.cleared_at is None


def stored_sales(register: str) -> tuple[int, int, int]:
    """HQ's transactions, lines and payments of a register."""
    db.session.expire_all()
    register_id = db.session.scalar(sa.select(Register.id).filter_by(register_number=register))
    ids = sa.select(PosTransaction.id).where(PosTransaction.register_id == register_id)
    count = sa.select(sa.func.count())
    return (
        db.session.scalar(count.select_from(PosTransaction).where(PosTransaction.id.in_(ids))),
        db.session.scalar(
            count.select_from(TransactionLine).where(TransactionLine.pos_transaction_id.in_(ids))
        ),
        db.session.scalar(
            count.select_from(TransactionPayment).where(
                TransactionPayment.pos_transaction_id.in_(ids)
            )
        ),
    )


def lines_of(state_file: Path) -> int:
    state = LocalState(state_file)
    try:
        payloads = state.conn.execute("SELECT payload FROM agent_transaction").fetchall()
        return sum(len(json.loads(row[0])["lines"]) for row in payloads)
    finally:
        state.close()


def test_a_partial_download_is_resumed_and_a_stale_one_replaced(agent, activated, tmp_path):
    activated("SEATTLE-1")
    first, second = sessions_of("SEATTLE-1")[:2]
    folder = Path(str(agent.state_file) + ".packages")
    folder.mkdir()
    content = package_file(first).read_bytes()
    (folder / f"{first.id}.zip.partial").write_bytes(content[: len(content) // 2])
    stale = package_file(second).read_bytes()
    (folder / f"{second.id}.zip.partial").write_bytes(b"x" * (len(stale) // 2))

    code, out, err = agent("sync")

    assert code == 0, err
    assert f"Resuming the download of package {first.id} at byte {len(content) // 2}." in out
    assert f"Package {second.id} failed its SHA-256 check after resuming" in out
    assert all(s.status == SESSION_APPLIED for s in sessions_of("SEATTLE-1"))
    assert not list(folder.iterdir())
    assert_same_as_hq(agent.state_file, "SEATTLE-1", tmp_path)


def test_a_damaged_package_is_reported_and_holds_back_the_rest(agent, activated, tmp_path):
    activated("SEATTLE-1")
    first = sessions_of("SEATTLE-1")[0]
    path = package_file(first)
    good = path.read_bytes()
    path.write_bytes(good[:-10] + b"0123456789")

    code, out, err = agent("sync")

    assert code == 1
    assert f"Package {first.id} failed its SHA-256 check" in err
    sessions = sessions_of("SEATTLE-1")
    # A download that fails its check is offered again, the try counted.
    assert sessions[0].status == SESSION_AVAILABLE
    assert sessions[0].message.startswith("Failed to download (try 1 of 3)")
    assert "SHA-256" in sessions[0].message
    assert all(s.status != SESSION_APPLIED for s in sessions)
    assert agent_tables(agent.state_file) == {}

    path.write_bytes(good)
    assert agent("sync")[0] == 0
    assert all(s.status == SESSION_APPLIED for s in sessions_of("SEATTLE-1"))
    assert_same_as_hq(agent.state_file, "SEATTLE-1", tmp_path)


def test_a_revoked_token_or_an_unreachable_portal_stop_with_a_clear_exit(agent, activated):
    activated("SEATTLE-1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    code, _, err = agent("--url", closed, "--retries", "1", "sync")
    assert code == 3 and f"Cannot reach the portal at {closed}" in err

    for token in credentials.active_tokens(database_named("SEATTLE-1")):
        credentials.revoke(token, by="test")
    db.session.commit()
    code, _, err = agent("sync")
    assert code == 4 and "unknown or revoked" in err
    assert agent("status")[0] == 4
    assert agent("sell", "--count", "0")[0] == 2
    assert agent("sell", "--count", "x")[0] == 2


def test_a_store_database_syncs_its_scope_and_sells_on_its_registers(agent, activated, tmp_path):
    activated("HOUSTON")
    assert agent("sync")[0] == 0
    tables = assert_same_as_hq(agent.state_file, "HOUSTON", tmp_path)
    assert sorted(tables["register_hardware"]) == [("HOUSTON-1",), ("HOUSTON-2",)]

    assert agent("sell", "--count", "3")[0] == 0
    assert agent("sell", "--count", "2", "--register", "HOUSTON-2")[0] == 0
    assert agent("sell", "--count", "1", "--register", "SEATTLE-1")[0] == 2
    code, out, err = agent("upload")

    assert code == 0, err
    assert "5 accepted" in out
    assert stored_sales("HOUSTON-1")[0] == 3 and stored_sales("HOUSTON-2")[0] == 2


def test_a_package_applied_but_never_reported_is_reported_not_applied_twice(agent, activated):
    activated("SEATTLE-1")
    state = LocalState(agent.state_file)
    # As if killed between applying the first package and reporting it.
    with PortalClient(state.get("url"), state.get("token")) as client:
        item = sync.available_packages(client)[0]
        path = sync.download(client, state.package_folder, item, print)
        apply_package(state, path, item)
    state.close()

    code, out, err = agent("sync")

    assert code == 0, err
    assert f"Package {item['id']} (job {item['job']}) was applied before; reported it." in out
    assert f"Applied full package {item['id']} (" not in out
    assert all(s.status == SESSION_APPLIED for s in sessions_of("SEATTLE-1"))


def test_refused_sales_stay_here_and_are_shown(agent, activated):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    assert agent("sell", "--count", "2", "--offline")[0] == 0
    assert agent("upload")[0] == 0
    state = LocalState(agent.state_file)
    # One sale comes back changed (a conflict), a new one adds up wrong (rejected).
    state.conn.execute(
        "UPDATE agent_transaction SET status = 'pending', uploaded_at = NULL, "
        "payload = json_set(payload, '$.staff', 'SOMEONE-ELSE') WHERE sequence = 1"
    )
    state.close()
    assert agent("sell", "--count", "1", "--offline")[0] == 0
    state = LocalState(agent.state_file)
    state.conn.execute(
        "UPDATE agent_transaction SET payload = json_set(payload, '$.total', '0.01') "
        "WHERE sequence = 3"
    )
    state.close()

    code, out, err = agent("upload")

    assert code == 1
    assert "0 accepted, 0 duplicate, 1 rejected, 1 conflict" in out
    assert "SEATTLE-1-000001 conflict" in err and "SEATTLE-1-000003 rejected" in err
    report = json.loads(agent("status", "--json")[1])
    assert report["pending_uploads"] == 2
    assert report["kept"]["count"] == 2
    assert [(s["receipt_number"], s["status"]) for s in report["kept"]["sales"]] == [
        ("SEATTLE-1-000001", "conflict"),
        ("SEATTLE-1-000003", "rejected"),
    ]
    assert "total" in report["kept"]["sales"][1]["errors"]
    assert status_of("SEATTLE-1").pending_uploads == 2
    assert stored_sales("SEATTLE-1")[0] == 2
    # A plain upload leaves them alone; asked to, it sends them again.
    assert agent("upload")[0] == 0
    assert "1 rejected, 1 conflict" in agent("upload", "--include-refused")[1]


@pytest.fixture
def upload_connection_killed(database_uri):
    """Kill the database connection of the first batch of sales the portal writes, for real.

    Its backend is terminated from a second connection once the sales, their lines and payments
    are written and before the transaction commits (just before the batch locks its stores), as
    a database restart or a network cut would; returns the list of killed backend ids.
    """
    if not database_uri.startswith("postgresql"):
        pytest.skip("terminating a server connection needs PostgreSQL")
    killed: list[int] = []
    admin_url = database_uri.replace("postgresql+psycopg://", "postgresql://")

    def kill_first(conn, cursor, statement, parameters, context, executemany):
        if killed or not (
            statement.startswith("SELECT store.id") and "FOR NO KEY UPDATE" in statement
        ):
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        killed.append(pid)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", kill_first)
    yield killed
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", kill_first)


def test_a_connection_lost_mid_upload_fails_the_batch_and_the_retry_stores_each_sale_once(
    agent, activated, live_url, upload_connection_killed
):
    activated("SEATTLE-1")
    assert agent("sync")[0] == 0
    assert agent("sell", "--count", "12", "--offline", "--seed", "4")[0] == 0
    answers: list[int] = []
    state = LocalState(agent.state_file)

    with PortalClient(
        live_url,
        state.get("token"),
        backoff=0.05,
        event_hooks={"response": [lambda response: answers.append(response.status_code)]},
    ) as client:
        counts = uploads.upload(client, state, lambda _: None)
    state.close()

    assert len(upload_connection_killed) == 1
    assert answers == [500, 200], "the first try fails with the server error, the retry succeeds"
    assert counts["accepted"] == 12
    assert stored_sales("SEATTLE-1") == (12, lines_of(agent.state_file), 12)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UploadSession)) == 1
