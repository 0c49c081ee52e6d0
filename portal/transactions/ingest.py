"""Storing a batch of uploaded sales: every transaction exactly once, however often it is sent.

A batch becomes an upload session. Each of its transactions ends as one of:

- accepted: stored now;
- duplicate: its register's sale with its id is stored already with the same content (canonical
  hash): nothing is stored;
- conflict: its register's sale with its id is stored already with other content: the new content
  is kept aside as a transaction conflict for an auditor (once per distinct content); the stored
  sale never changes;
- rejected: it fails a check of `validation`, or names a register the device may not upload
  for (an offline database uploads for its own register, a store's channel database for the
  store's registers). Nothing of it is stored; the response says why, field by field.

A sale is identified by its register and its id, and a device only uploads for registers it
owns, so it never reads, matches, flags or changes a sale of another register. An id another
register used before makes a sale of its own, accepted like any new one (the device learns
nothing of the other); the anomaly rules flag it for auditors.

One transaction's outcome never affects its neighbours'. A batch holds at most 500 transactions.
What reacts to stored sales (the auditor's anomaly rules) receives the accepted sales and the
kept conflicts through `signals.sales_stored`, sent in the same database transaction, so a
stored sale never lacks its anomalies. Every answered batch, replays included, is announced
through `signals.batch_answered` (the device API notes the database's last upload).

Exactly once under concurrency: (id, register) is unique in the database and the rows go in
with INSERT ... ON CONFLICT DO NOTHING, in (register, id) order whatever the batch's order, so
two connections sending the same sales at once store each sale once, without deadlock; the second
waits for the first to commit and then finds its rows. The inserts go in parts of `PART` sales,
each checked while the database inserts the part before: on two cores the checking and the
inserting overlap instead of taking turns. Likewise the receivers of `sales_stored` read what
they need before the lines and payments are written, and do the rest (as ingest writes its
answer) while the database writes them.
An Idempotency-Key claims the pair (database, key) the same way; the first response is kept on
the upload session and replayed for a retry with the same key and body.
"""

import hashlib
from collections import Counter
from collections.abc import Callable
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple

import sqlalchemy as sa

from portal.core.errors import Conflict
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.storable import text_problem
from portal.setup.models import OFFLINE, ChannelDatabase, Register, Store
from portal.transactions import batches, bulk, conflicts, signals, typed_sales, validation
from portal.transactions.models import (
    UPLOAD_APPLIED,
    PosTransaction,
    TransactionLine,
    TransactionPayment,
    UploadSession,
)
from portal.transactions.signals import Arrival
from portal.transactions.validation import Sale

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
REJECTED = "rejected"
OUTCOMES = (ACCEPTED, DUPLICATE, REJECTED, CONFLICT)
CONFLICT_MESSAGE = "Received before with other content; kept aside for an auditor."
# The columns a checked sale's lines and payments are copied into, after their sale's row id
# and their number: the keys of `validation`'s line and payment dicts.
LINE_COLUMNS = (
    "pos_transaction_id",
    "line_number",
    "product",
    "quantity",
    "unit_price",
    "discount",
    "tax_code",
    "tax_amount",
    "price_override",
)
PAYMENT_COLUMNS = ("pos_transaction_id", "line_number", "method", "amount")
UNIQUE = ("transaction_id", "register_id")
# Sales checked and sent to the database at a time: small enough that checking the next part
# overlaps most of the batch's insert, large enough that each statement carries many rows.
PART = 100
_line_values = itemgetter(*LINE_COLUMNS[2:])
_payment_values = itemgetter(*PAYMENT_COLUMNS[2:])


def receive(
    database: ChannelDatabase, body: bytes, idempotency_key: str | None
) -> tuple[dict[str, Any], bool]:
    """Answer a batch as the device sent it: the response, and whether it is a replay.

    The key is claimed before the body is read: a retry is answered from the stored response
    without reading its batch again, and a new batch costs no look-up of its key first.
    """
    request_sha256 = hashlib.sha256(body).hexdigest()
    key = batches.checked_key(idempotency_key)
    now = utcnow()
    session_id, earlier = _claim_session(database, key, request_sha256, now)
    if earlier is not None:
        _record_last_upload(database, now)
        return earlier, True
    stored = _store(database, session_id, typed_sales.Batch(body), now)
    # The database writes the lines and payments while the rest of the batch's Python runs.
    with bulk.appending(stored.lines):
        for finish in stored.finishing:
            finish()
        counts = Counter(result["status"] for result in stored.results)
        response = {
            "upload_session": session_id,
            "status": UPLOAD_APPLIED,
            "counts": {outcome: counts[outcome] for outcome in OUTCOMES},
            "results": stored.results,
        }
        _finish_session(session_id, response)
    # Last: the device's status row is one per database, and holding it longer than this
    # would make every other upload of the database wait.
    _record_last_upload(database, now, counts[ACCEPTED] + counts[DUPLICATE])
    return response, False


def _claim_session(
    database: ChannelDatabase, key: str | None, request_sha256: str, now
) -> tuple[int | None, dict | None]:
    """A new upload session's id, or the earlier response to replay for the same key."""
    table = UploadSession.__table__
    claimed = db.session.scalar(
        bulk.insert(table)
        .values(
            channel_database_id=database.id,
            idempotency_key=key,
            request_sha256=request_sha256,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["channel_database_id", "idempotency_key"])
        .returning(table.c.id)
    )
    if claimed is not None:
        return claimed, None
    # A twin request held the key; PostgreSQL made this one wait until it committed.
    return None, _earlier_response(database, key, request_sha256)


def _earlier_response(database: ChannelDatabase, key: str, request_sha256: str) -> dict | None:
    """The stored response for this key; Conflict if the key came with another batch."""
    table = UploadSession.__table__
    earlier = db.session.execute(
        sa.select(table.c.id, table.c.request_sha256, table.c.response).where(
            table.c.channel_database_id == database.id, table.c.idempotency_key == key
        )
    ).one_or_none()
    if earlier is None:
        return None
    if earlier.request_sha256 != request_sha256:
        raise Conflict(
            f"Idempotency-Key '{key}' was used for another batch (upload session "
            f"{earlier.id}); send a new batch with a new key.",
            {"Idempotency-Key": "Used for another batch."},
        )
    if earlier.response is None:
        raise Conflict(f"Upload session {earlier.id} with this key is still being processed.")
    return earlier.response


class _Stored(NamedTuple):
    """A batch's sales stored: what is left to write and to finish, and the results."""

    # One per transaction, in the batch's order.
    results: list[dict[str, Any]]
    # The rows of the new sales' lines and payments (`bulk.appending`).
    lines: list[bulk.Rows]
    # What the receivers of `sales_stored` left to do once the lines are being written.
    finishing: list[Callable[[], Any]]


def _store(database: ChannelDatabase, session_id: int, batch: typed_sales.Batch, now) -> _Stored:
    """Check the batch's transactions and store their good sales, but not yet their lines and
    payments.

    The sales go in in (register, id) order, in parts: each part is checked while the database
    inserts the one before (`bulk.new_rows`).
    """
    checked: list[typed_sales.Checked | None] = [None] * len(batch)
    keys = _keys(batch, checked)
    registers = _registers_of(database, {number for number, _ in keys.values()})
    order = sorted(
        (index for index, (number, _) in keys.items() if number in registers),
        key=lambda index: (registers[keys[index][0]][0], keys[index][1]),
    )
    first: dict[conflicts.SaleKey, tuple[Sale, tuple[int, int]]] = {}
    table = PosTransaction.__table__
    with bulk.new_rows(table, UNIQUE, ("register_id", "transaction_id", "id")) as new_rows:
        for start in range(0, len(order), PART):
            rows = []
            for index in order[start : start + PART]:
                if checked[index] is None:
                    checked[index] = batch.check(index)
                sale = checked[index][0]
                register = registers[keys[index][0]]
                key = (register[0], keys[index][1])
                # The first good copy of a sale in the batch's order (the sort keeps it).
                if sale is not None and key not in first:
                    first[key] = (sale, register)
                    rows.append(_transaction_row(sale, register, session_id, now))
            new_rows.send(rows)
        inserted = {(register_id, tid): pk for register_id, tid, pk in new_rows.inserted()}
    # `first` was filled in the insert's (register, id) order.
    lines = _lines_and_payments(inserted, list(first.values()))
    results: list[dict[str, Any]] = []
    sales: list[tuple[int, Sale, tuple[int, int]]] = []
    for index in range(len(batch)):
        sale, errors, item = checked[index] or batch.check(index)
        if sale is not None and sale.register not in registers:
            errors = {"register": _not_yours(database, sale.register)}
        elif sale is not None:
            sales.append((index, sale, registers[sale.register]))
        transaction_id = sale.transaction_id if sale else validation.reported_id(item)
        results.append({"transaction_id": transaction_id, "status": REJECTED, "errors": errors})
    stored = conflicts.stored_hashes(first.keys() - inserted.keys())
    stored.update((key, (pk, first[key][0].content_sha256)) for key, pk in inserted.items())
    fresh, other_content, arrivals, stores = set(inserted), [], [], set()
    for index, sale, (register_id, store_id) in sales:
        key = (register_id, sale.transaction_id)
        pk, content_sha256 = stored[key]
        if key in fresh:
            fresh.discard(key)  # later copies in the batch compare with it
            results[index]["status"] = ACCEPTED
            arrivals.append(Arrival(pk, sale, register_id, store_id))
        elif content_sha256 == sale.content_sha256:
            results[index]["status"] = DUPLICATE
        else:
            results[index].update(status=CONFLICT, errors={"transaction_id": CONFLICT_MESSAGE})
            other_content.append((sale, pk, content_sha256))
        if results[index]["status"] != DUPLICATE:
            stores.add(store_id)
    finishing = []
    if stores:
        # Before the conflicts' row locks: every batch takes the store locks first, then those.
        lock_stores(stores)
        kept = conflicts.keep(session_id, other_content, now)
        heard = signals.sales_stored.send(arrivals=arrivals, conflicts=kept, now=now)
        finishing = [finish for _, finish in heard if finish is not None]
    return _Stored(results, lines, finishing)


def _keys(batch: typed_sales.Batch, checked: list) -> dict[int, tuple[str, str]]:
    """(register number, id) by index, of each transaction whose sale would be stored, if good.

    A transaction not decoded is checked now to learn them (noted in `checked`); one whose
    register number no column could hold is left out, rejected by its check later.
    """
    keys = {}
    for index in range(len(batch)):
        key = batch.key(index)
        if key is None:
            checked[index] = batch.check(index)
            sale = checked[index][0]
            key = sale and (sale.register, sale.transaction_id)
        if key and text_problem(key[0]) is None:
            keys[index] = key
    return keys


def lock_stores(store_ids: set[int]) -> None:
    """Make batches of the same stores run what reacts to them one after the other, until commit.

    NO KEY UPDATE leaves the key-share locks that inserting sales takes on their store alone.
    """
    if store_ids:
        db.session.execute(_lock_stores_query(), {"stores": list(store_ids)})


@cache
def _lock_stores_query() -> sa.Select:
    # Built once, as the selects below: building them cost about what running them does.
    return (
        sa.select(Store.id)
        .where(Store.id.in_(sa.bindparam("stores", expanding=True)))
        .order_by(Store.id)
        .with_for_update(key_share=True)
    )


def _registers_of(database: ChannelDatabase, numbers: set[str]) -> dict[str, tuple[int, int]]:
    """(register id, store id) by register number, for the registers the device may upload for."""
    offline = database.kind == OFFLINE
    rows = db.session.execute(
        _registers_query(offline),
        {
            "numbers": list(numbers),
            "owner": database.register_id if offline else database.store_id,
        },
    )
    return {number: (rid, sid) for number, rid, sid in rows}


@cache
def _registers_query(offline: bool) -> sa.Select:
    owner = Register.id if offline else Register.store_id
    return sa.select(Register.register_number, Register.id, Register.store_id).where(
        Register.register_number.in_(sa.bindparam("numbers", expanding=True)),
        owner == sa.bindparam("owner"),
    )


def _not_yours(database: ChannelDatabase, number: str) -> str:
    # The same words whether the register exists elsewhere or not: other stores stay unseen.
    if database.kind == OFFLINE:
        return f"This device uploads for register {database.register.register_number} only."
    return f"Register {number} is not a register of store {database.store.store_number}."


def _transaction_row(sale: Sale, register: tuple[int, int], session_id: int, now) -> dict:
    register_id, store_id = register
    return {
        "transaction_id": sale.transaction_id,
        "register_id": register_id,
        "store_id": store_id,
        "upload_session_id": session_id,
        "sequence": sale.sequence,
        "receipt_number": sale.receipt_number,
        "staff": sale.staff,
        "created_at": sale.created_at,
        "utc_offset_minutes": sale.utc_offset_minutes,
        "offline": sale.offline,
        "offline_since": sale.offline_since,
        "kind": sale.kind,
        "total": sale.total,
        "content_sha256": sale.content_sha256,
        "received_at": now,
    }


def _lines_and_payments(
    inserted: dict[conflicts.SaleKey, int], sales: list[tuple[Sale, tuple[int, int]]]
) -> list[bulk.Rows]:
    """The rows of the lines and payments of the sales just inserted, in the sales' order."""
    lines, payments = [], []
    for sale, (register_id, _) in sales:
        pk = inserted.get((register_id, sale.transaction_id))
        if pk is None:
            continue
        for number, line in enumerate(sale.lines, 1):
            lines.append((pk, number, *_line_values(line)))
        for number, payment in enumerate(sale.payments, 1):
            payments.append((pk, number, *_payment_values(payment)))
    return [
        (TransactionLine.__table__, LINE_COLUMNS, lines),
        (TransactionPayment.__table__, PAYMENT_COLUMNS, payments),
    ]


def _finish_session(session_id: int, response: dict[str, Any]) -> None:
    counts = response["counts"]
    table = UploadSession.__table__
    db.session.execute(
        table.update()
        .where(table.c.id == session_id)
        .values(
            status=UPLOAD_APPLIED,
            finished_at=utcnow(),
            transactions=len(response["results"]),
            accepted=counts[ACCEPTED],
            duplicates=counts[DUPLICATE],
            rejected=counts[REJECTED],
            conflicts=counts[CONFLICT],
            response=response,
            message=", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES),
        )
    )


def _record_last_upload(database: ChannelDatabase, now, stored: int = 0) -> None:
    """Tell the listeners (the device's status) that the database's batch was answered."""
    signals.batch_answered.send(database=database, now=now, stored=stored)
