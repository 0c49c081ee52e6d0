"""A transaction id reused by another register: its own sale, flagged, the first one untouched.

A sale's identity is its register plus its id. A device only ever matches the sales of the
registers it uploads for: another store's sale under the same id is neither read, matched,
flagged nor changed, and the device's answer is the one it gets for any new sale.
"""

import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.auditor.models import CONFLICT, REUSED_TRANSACTION_ID, Anomaly
from portal.core.extensions import db
from portal.setup.stores import services as stores_services
from portal.transactions.models import PosTransaction, TransactionConflict, UploadSession
from tests.factories import RegisterFactory, StoreFactory
from tests.transactions.conftest import UPLOAD, device_headers, made, offline_database, send

pytestmark = pytest.mark.usefixtures("app_ctx")

OTHER_PRICE = {
    "lines": [{"product": "P-7", "quantity": "1", "unit_price": "3.00", "tax_amount": "0.60"}],
    "payments": [{"method": "card", "amount": "3.60"}],
    "total": "3.60",
}


@pytest.fixture
def seattle(stores):
    """SEATTLE, another store, with its offline register SEATTLE-1."""
    StoreFactory(store_number="SEATTLE")
    RegisterFactory(register_number="SEATTLE-1", store="SEATTLE", support_offline=True)


@pytest.fixture
def seattle_device(seattle):
    """Headers of the device of SEATTLE-1's offline database."""
    return device_headers(offline_database("SEATTLE-1"))


@pytest.fixture
def seattle_store_device(seattle):
    """Headers of the device of SEATTLE's channel database (the store server)."""
    return device_headers(stores_services.get_store("SEATTLE").channel_database)


def sale_of(register: str, transaction_id: str) -> PosTransaction | None:
    """The register's stored sale with this id."""
    db.session.expire_all()
    return db.session.scalar(
        sa.select(PosTransaction).where(
            PosTransaction.transaction_id == transaction_id,
            PosTransaction.register.has(register_number=register),
        )
    )


def facts(sale: PosTransaction) -> dict:
    """Everything stored about a sale, to compare before and after."""
    db.session.expire_all()
    columns = {c.name: getattr(sale, c.name) for c in PosTransaction.__table__.columns}
    return {
        "row": columns,
        "lines": [(ln.product, ln.quantity, ln.unit_price, ln.tax_amount) for ln in sale.lines],
        "payments": [(p.method, p.amount) for p in sale.payments],
        "anomalies": anomalies_on(sale),
        "conflicts": list(
            db.session.execute(
                sa.select(TransactionConflict.id, TransactionConflict.content_sha256).where(
                    TransactionConflict.pos_transaction_id == sale.id
                )
            )
        ),
    }


def anomalies_on(sale: PosTransaction) -> list[tuple[str, str, dict]]:
    """(kind, message, detail) of the anomalies on a sale."""
    return [
        (a.kind, a.message, a.detail)
        for a in db.session.scalars(
            sa.select(Anomaly).where(Anomaly.pos_transaction_id == sale.id).order_by(Anomaly.id)
        )
    ]


def reused_anomalies() -> list[Anomaly]:
    """Every reused transaction id anomaly."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Anomaly).filter_by(kind=REUSED_TRANSACTION_ID)))


def as_seattle(houston_sale: dict, **changes) -> dict:
    """HOUSTON-1's sale as SEATTLE-1 would send it under the same id."""
    return houston_sale | {"register": "SEATTLE-1", "receipt_number": "SEATTLE-1-000001"} | changes


@pytest.mark.parametrize("content", ["same", "other"])
@pytest.mark.parametrize("device", ["register", "store"])
def test_another_stores_id_becomes_its_own_sale_and_houstons_stays_as_it_was(
    client, register_device, seattle_device, seattle_store_device, content, device
):
    houston_sale = made("HOUSTON-1", 1)
    send(client, register_device, houston_sale, made("HOUSTON-1", 2))
    houston = sale_of("HOUSTON-1", houston_sale["transaction_id"])
    before = facts(houston)
    reused = as_seattle(houston_sale, **(OTHER_PRICE if content == "other" else {}))
    fresh = made("SEATTLE-1", 2)
    headers = seattle_device if device == "register" else seattle_store_device

    answer = send(client, headers, reused, fresh)

    # The answer is the one any new sale gets: nothing says the id exists elsewhere.
    assert answer["results"] == [
        {"transaction_id": reused["transaction_id"], "status": "accepted", "errors": {}},
        {"transaction_id": fresh["transaction_id"], "status": "accepted", "errors": {}},
    ]
    assert answer["counts"] == {"accepted": 2, "duplicate": 0, "rejected": 0, "conflict": 0}
    session = db.session.get(UploadSession, answer["upload_session"])
    assert (session.accepted, session.conflicts) == (2, 0)
    assert facts(houston) == before
    seattle = sale_of("SEATTLE-1", reused["transaction_id"])
    assert seattle is not None and seattle.id != houston.id
    assert seattle.store.store_number == "SEATTLE"
    assert seattle.total == (Decimal("3.60") if content == "other" else houston.total)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TransactionConflict)) == 0
    (anomaly,) = reused_anomalies()
    assert (anomaly.pos_transaction_id, anomaly.register_id) == (seattle.id, seattle.register_id)
    assert anomaly.store_id == seattle.store_id
    assert anomaly.message == "This transaction id was already used by another register."
    assert anomaly.detail == {"other_sales": [houston.id]}


def test_seattle_sending_its_sale_again_meets_only_its_own(client, register_device, seattle_device):
    houston_sale = made("HOUSTON-1", 1)
    send(client, register_device, houston_sale)
    reused = as_seattle(houston_sale)
    send(client, seattle_device, reused)
    houston = sale_of("HOUSTON-1", houston_sale["transaction_id"])
    seattle = sale_of("SEATTLE-1", reused["transaction_id"])
    before = facts(houston)

    again = send(client, seattle_device, reused)
    changed = send(client, seattle_device, reused | OTHER_PRICE)

    assert [r["status"] for r in again["results"] + changed["results"]] == [
        "duplicate",
        "conflict",
    ]
    assert facts(houston) == before
    (kept,) = db.session.scalars(sa.select(TransactionConflict))
    assert kept.pos_transaction_id == seattle.id
    assert [kind for kind, _, _ in anomalies_on(seattle)] == [REUSED_TRANSACTION_ID, CONFLICT]


def test_houston_sending_its_sale_again_meets_only_its_own(client, register_device, seattle_device):
    houston_sale = made("HOUSTON-1", 1)
    send(client, register_device, houston_sale)
    reused = as_seattle(houston_sale, **OTHER_PRICE)
    send(client, seattle_device, reused)
    seattle = sale_of("SEATTLE-1", reused["transaction_id"])
    before = facts(seattle)

    again = send(client, register_device, houston_sale)
    changed = send(client, register_device, houston_sale | {"staff": "000999"})

    assert [r["status"] for r in again["results"] + changed["results"]] == [
        "duplicate",
        "conflict",
    ]
    assert facts(seattle) == before
    houston = sale_of("HOUSTON-1", houston_sale["transaction_id"])
    (kept,) = db.session.scalars(sa.select(TransactionConflict))
    assert kept.pos_transaction_id == houston.id
    assert [kind for kind, _, _ in anomalies_on(houston)] == [CONFLICT]
    assert len(reused_anomalies()) == 1


def test_a_register_of_the_same_store_reusing_an_id_gets_its_own_sale(client, store_device):
    first = made("HOUSTON-1", 1)
    second = first | {"register": "HOUSTON-2", "receipt_number": "HOUSTON-2-000001"}
    third = first | {"register": "HOUSTON-1", "sequence": 2, "receipt_number": "H1-2"}

    answer = send(client, store_device, first, second)
    later = send(client, store_device, second, third)

    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted"]
    # Within one register an id is still one sale: again it is a duplicate, changed a conflict.
    assert [r["status"] for r in later["results"]] == ["duplicate", "conflict"]
    houston_1 = sale_of("HOUSTON-1", first["transaction_id"])
    houston_2 = sale_of("HOUSTON-2", first["transaction_id"])
    (anomaly,) = reused_anomalies()
    assert anomaly.pos_transaction_id == houston_2.id
    assert anomaly.detail == {"other_sales": [houston_1.id]}
    (kept,) = db.session.scalars(sa.select(TransactionConflict))
    assert kept.pos_transaction_id == houston_1.id


def test_auditors_see_the_anomaly_on_the_new_sale_only(
    client, token_for, register_device, seattle_device
):
    houston_sale = made("HOUSTON-1", 1)
    send(client, register_device, houston_sale)
    send(client, seattle_device, as_seattle(houston_sale))
    auditor = token_for("auditor")
    houston = sale_of("HOUSTON-1", houston_sale["transaction_id"])
    seattle = sale_of("SEATTLE-1", houston_sale["transaction_id"])

    shown = {
        sale.id: client.get(f"/api/v1/transactions/{sale.id}", headers=auditor).json
        for sale in (houston, seattle)
    }
    listed = client.get(
        "/api/v1/transactions", query_string={"q": houston_sale["transaction_id"]}, headers=auditor
    )

    assert shown[houston.id]["anomalies"] == []
    assert [a["kind"] for a in shown[seattle.id]["anomalies"]] == [REUSED_TRANSACTION_ID]
    assert {(item["id"], item["register"]) for item in listed.json["items"]} == {
        (houston.id, "HOUSTON-1"),
        (seattle.id, "SEATTLE-1"),
    }


def test_two_stores_sending_one_id_at_once_flag_exactly_one_sale(
    app, register_device, seattle_device
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time; concurrent uploads need PostgreSQL")
    for round_number in range(1, 5):
        houston_sale = made("HOUSTON-1", round_number)
        seattle_sale = as_seattle(houston_sale, sequence=round_number)

        send_apart_together(app, [(register_device, houston_sale), (seattle_device, seattle_sale)])

        assert len(reused_anomalies()) == round_number


def send_apart_together(app, uploads: list[tuple[dict, dict]]) -> None:
    """Each sale from its own device, thread and connection, all at once."""
    start = threading.Barrier(len(uploads))
    statuses = [None] * len(uploads)

    def post(index: int) -> None:
        headers, sale = uploads[index]
        client = app.test_client()
        start.wait()
        response = client.post(UPLOAD, json={"transactions": [sale]}, headers=headers)
        statuses[index] = response.status_code

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * len(uploads)
