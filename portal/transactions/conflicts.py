"""Sales received again: which are stored already, and other content kept aside for an auditor.

A transaction id is stored once; a later upload of it with the same canonical hash is a
duplicate, and one with other content is a conflict. Each distinct other content is recorded
once as a transaction conflict; the stored sale never changes.
"""

import sqlalchemy as sa

from portal.anomalies.findings import KeptConflict
from portal.extensions import db
from portal.transactions.models import PosTransaction, TransactionConflict
from portal.transactions.validation import Sale


def stored_hashes(transaction_ids) -> dict[str, tuple[int, str]]:
    """(row id, content hash) of sales stored before, by UUID."""
    if not transaction_ids:
        return {}
    rows = db.session.execute(
        sa.select(
            PosTransaction.transaction_id, PosTransaction.id, PosTransaction.content_sha256
        ).where(PosTransaction.transaction_id.in_(transaction_ids))
    )
    return {tid: (pk, content_sha256) for tid, pk, content_sha256 in rows}


def keep(session_id: int, conflicts: list[tuple[Sale, int, str]], now) -> list[KeptConflict]:
    """Record each distinct other content of a stored sale once, for an auditor; those new."""
    if not conflicts:
        return []
    # Locking the stored sales makes a concurrent upload of the same conflict wait for this one
    # to commit, after which it finds the record below instead of adding a second.
    db.session.execute(
        sa.select(PosTransaction.id)
        .where(PosTransaction.id.in_({pk for _, pk, _ in conflicts}))
        .order_by(PosTransaction.id)
        .with_for_update()
    )
    recorded = db.session.execute(
        sa.select(TransactionConflict.transaction_id, TransactionConflict.content_sha256).where(
            TransactionConflict.transaction_id.in_({s.transaction_id for s, _, _ in conflicts})
        )
    )
    known = {(tid, content_sha256) for tid, content_sha256 in recorded}
    rows, kept = [], []
    for sale, pk, stored_sha256 in conflicts:
        if (sale.transaction_id, sale.content_sha256) in known:
            continue
        known.add((sale.transaction_id, sale.content_sha256))
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
