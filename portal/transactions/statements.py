"""Receiving shift statements: what a register says it sold in a shift, stored exactly once.

A statement is identified by its register and its shift id. Sent again with the same content
(the same `statement_hash`) it is a duplicate and nothing changes; with other content it is
refused (409): the first one stays, as a sale's does. A device sends statements only for its own
register (an offline database) or its store's registers (a store's channel database).

The auditor workspace reconciles each new statement against the sales received on
`signals.statement_stored`, sent with the statement's store locked as a batch of sales locks it,
so a statement and a batch of the same store never reconcile past each other.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from portal.core.errors import Conflict, Forbidden, ValidationFailed
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.setup.models import OFFLINE, ChannelDatabase, Register
from portal.transactions import bulk, ingest, signals
from portal.transactions.models import STATEMENT_SALES_MISSING, ShiftStatement
from portal.transactions.statement_hash import statement_hash

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
CENT = Decimal("0.01")
# Reconciling reads a shift's sequences one by one; no register sells more in a shift.
MAX_SEQUENCES = 100_000


@dataclass(frozen=True, slots=True)
class Received:
    """A statement as HQ holds it, and whether this request stored it or found it stored."""

    statement: ShiftStatement
    status: str


def receive(database: ChannelDatabase, data: dict) -> Received:
    """Store a statement a device sent, once; refuse other content under a stored shift id."""
    register = _own_register(database, data["register"])
    _check(data)
    digest = statement_hash(data)
    now = utcnow()
    table = ShiftStatement.__table__
    opened = data["opened_at"]
    pk = db.session.scalar(
        bulk.insert(table)
        .values(
            register_id=register.id,
            store_id=register.store_id,
            channel_database_id=database.id,
            shift_id=data["shift_id"],
            opened_at=opened,
            closed_at=data["closed_at"],
            business_day=opened.date(),
            first_sequence=data["first_sequence"],
            last_sequence=data["last_sequence"],
            counts=data["counts"],
            totals={kind: str(v) for kind, v in data["totals"].items()},
            payments={method: str(v) for method, v in data["payments"].items()},
            total=sum(data["totals"].values(), Decimal(0)),
            previous_hash=data.get("previous_hash"),
            sales_digest=data.get("sales_digest"),
            statement_hash=digest,
            received_at=now,
            state=STATEMENT_SALES_MISSING,
            chain_broken=False,
            received_total=Decimal(0),
            unaccounted=Decimal(0),
            missing_count=0,
            missing=[],
            differences={},
        )
        .on_conflict_do_nothing(index_elements=["register_id", "shift_id"])
        .returning(table.c.id)
    )
    if pk is None:
        stored = db.session.scalar(
            sa.select(ShiftStatement).filter_by(register_id=register.id, shift_id=data["shift_id"])
        )
        if stored.statement_hash != digest:
            raise Conflict(
                f"Shift {data['shift_id']} of {register.register_number} was sent before with "
                "other content; the first statement stays. Close the next shift under a new id.",
                {"shift_id": "Sent before with other content."},
            )
        return Received(stored, DUPLICATE)
    statement = db.session.get(ShiftStatement, pk)
    ingest.lock_stores({register.store_id})
    signals.statement_stored.send(statement=statement, now=now)
    db.session.flush()
    return Received(statement, ACCEPTED)


def _own_register(database: ChannelDatabase, number: str) -> Register:
    """The register named, if the device may report for it; Forbidden otherwise."""
    stmt = sa.select(Register).where(Register.register_number == number)
    if database.kind == OFFLINE:
        stmt = stmt.where(Register.id == database.register_id)
        own = database.register.register_number
        refusal = f"This device sends statements for register {own} only."
    else:
        stmt = stmt.where(Register.store_id == database.store_id)
        refusal = f"Register {number} is not a register of store {database.store.store_number}."
    register = db.session.scalar(stmt)
    if register is None:
        # The same words whether the register exists elsewhere or not: other stores stay unseen.
        raise Forbidden(refusal)
    return register


def _check(data: dict) -> None:
    """The rules a statement's fields cannot say alone; ValidationFailed naming each field."""
    fields = {}
    if data["closed_at"] < data["opened_at"]:
        fields["closed_at"] = "Not before opened_at."
    elif data["closed_at"] - data["opened_at"] > timedelta(days=7):
        fields["closed_at"] = "A shift lasts at most 7 days."
    first, last = data["first_sequence"], data["last_sequence"]
    if last < first:
        fields["last_sequence"] = "Not below first_sequence."
    elif last - first >= MAX_SEQUENCES:
        fields["last_sequence"] = f"A shift holds at most {MAX_SEQUENCES} sequences."
    counted = sum(data["counts"].values())
    if "last_sequence" not in fields and counted != last - first + 1:
        fields["counts"] = (
            f"The counts add up to {counted}, but sequences {first} to {last} are "
            f"{last - first + 1} transactions."
        )
    stated = sum(data["totals"].values(), Decimal(0))
    paid = sum(data["payments"].values(), Decimal(0))
    if abs(stated - paid) >= CENT:
        fields["payments"] = f"The payments add up to {paid}, the totals to {stated}."
    if fields:
        raise ValidationFailed("The statement does not add up.", fields)
