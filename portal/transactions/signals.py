"""What received sales tell the packages that react to them, and what each message carries.

A package above `transactions` (the auditor workspace's anomaly rules, the device API's status
rows) subscribes at app set-up; `transactions` sends without knowing who listens.
"""

from dataclasses import dataclass

from blinker import Namespace

from portal.transactions.validation import Sale

_signals = Namespace()

sales_stored = _signals.signal(
    "sales-stored",
    doc="""A batch stored new sales or kept other content aside, in the open unit of work.

    Sent inside the batch's database transaction, after the batch's stores are locked, with
    `arrivals` (list of Arrival), `conflicts` (list of KeptConflict) and `now`; what a receiver
    adds to the session is committed, or rolled back, with the sales.

    The sales are stored, their lines and payments not yet: a receiver reads there what it
    needs of the database and may return a function (no arguments) with the rest of its work.
    Ingest then writes the lines and payments and calls each such function meanwhile: its
    Python runs while the database writes, and its first statement waits for the rows.
    """,
)

batch_answered = _signals.signal(
    "batch-answered",
    doc="""A channel database's device got an answer to a batch: stored now, or replayed.

    Sent with `database` (the ChannelDatabase), `now` and `stored` (the batch's sales now held
    at HQ: accepted or duplicate; 0 for a replayed answer, counted the first time), last in the
    batch's open unit of work, also when the answer is the stored response to a retry.
    """,
)


statement_stored = _signals.signal(
    "statement-stored",
    doc="""A register's shift statement was stored for the first time, in the open unit of work.

    Sent with `statement` (the ShiftStatement, flushed) and `now`, after its store is locked as
    a batch of its sales would lock it; what a receiver adds is committed with the statement.
    """,
)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A sale the batch stored: its row id and where it was made."""

    pk: int
    sale: Sale
    register_id: int
    store_id: int


@dataclass(frozen=True, slots=True)
class KeptConflict:
    """Other content of a stored sale that the batch kept aside."""

    pk: int
    stored_sha256: str
    received_sha256: str
    upload_session_id: int
