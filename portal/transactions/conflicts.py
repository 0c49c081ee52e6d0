"""Sales received again: which are stored already, and other content kept aside for an auditor.

A sale is identified by its register and its id: a later upload of the same register and id with
the same canonical hash is a duplicate, and one with other content is a conflict. Each distinct
other content is recorded once as a transaction conflict; the stored sale never changes. The same
id from another register is never compared with this one: it is that register's own sale.
"""

import sqlalchemy as sa

from portal.core.extensions import db
from portal.transactions.models import PosTransaction, TransactionConflict
from portal.transactions.signals import KeptConflict
from portal.transactions.validation import Sale

# A sale's identity: its register's row id and its transaction id.
SaleKey = tuple[int, str]


def stored_hashes(keys: set[SaleKey]) -> dict[SaleKey, tuple[int, str]]:
    """(row id, content hash) of sales stored before, by (register id, UUID)."""
    if not keys:
        return {}
    t = PosTransaction
    rows = db.session.execute(
        sa.select(t.register_id, t.transaction_id, t.id, t.content_sha256).where(
            t.transaction_id.in_({tid for _, tid in keys}),
            t.register_id.in_({register for register, _ in keys}),
        )
    )
    found = {(register, tid): (pk, sha256) for register, tid, pk, sha256 in rows}
    return {key: found[key] for key in keys if key in found}


def keep(session_id: int, conflicts: list[tuple[Sale, int, str]], now) -> list[KeptConflict]:
    """Record each distinct other content of a stored sale once, for an auditor; those new."""
    if not conflicts:
        return []
    pks = {pk for _, pk, _ in conflicts}
    # Locking the stored sales makes a concurrent upload of the same conflict wait for this one
    # to commit, after which it finds the record below instead of adding a second.
    db.session.execute(
        sa.select(PosTransaction.id)
        .where(PosTransaction.id.in_(pks))
        .order_by(PosTransaction.id)
        .with_for_update()
    )
    recorded = db.session.execute(
        sa.select(TransactionConflict.pos_transaction_id, TransactionConflict.content_sha256).where(
            TransactionConflict.pos_transaction_id.in_(pks)
        )
    )
    known = {(pk, content_sha256) for pk, content_sha256 in recorded}
    rows, kept = [], []
    for sale, pk, stored_sha256 in conflicts:
        if (pk, sale.content_sha256) in known:
            continue
        known.add((pk, sale.content_sha256))
        kept.append(KeptConflict(pk, stored_sha256, sale.content_sha256, session_id))
        rows.append(
            {
                "transaction_id": sale.transaction_id,
                "pos_transaction_id": pk,
                "upload_session_id": session_id,
                "content_sha256": sale.content_sha256,
                "payload": sale.canonical,
                "received_at": now,
            }
        )
    if rows:
        db.session.execute(sa.insert(TransactionConflict.__table__), rows)
    return kept
