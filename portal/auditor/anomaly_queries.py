"""Which anomalies an auditor asks for: one filter shared by the API and the pages."""

import sqlalchemy as sa

from portal.auditor.models import Anomaly
from portal.core.search import search
from portal.setup.models import Register, Store


def anomalies_query(filters: dict) -> sa.Select:
    """Select anomalies, newest first by (detected_at, id).

    `filters` keys, all optional; a missing key or a None / "" value does not filter:
    - "kind": one of portal.auditor.models.ANOMALY_KINDS;
    - "store": store number (str); "register": register number (str);
    - "review_status": one of portal.auditor.models.REVIEW_STATUSES;
    - "cleared": bool, True for anomalies the data answered later (cleared_at set);
    - "q": text the message contains (case-insensitive).
    """
    stmt = sa.select(Anomaly)
    stmt = search(stmt, filters.get("q"), Anomaly.message)
    if _given(filters, "kind"):
        stmt = stmt.where(Anomaly.kind == filters["kind"])
    if _given(filters, "store"):
        stmt = stmt.where(
            Anomaly.store_id.in_(sa.select(Store.id).where(Store.store_number == filters["store"]))
        )
    if _given(filters, "register"):
        stmt = stmt.where(
            Anomaly.register_id.in_(
                sa.select(Register.id).where(Register.register_number == filters["register"])
            )
        )
    if _given(filters, "review_status"):
        stmt = stmt.where(Anomaly.review_status == filters["review_status"])
    if _given(filters, "cleared"):
        cleared = Anomaly.cleared_at.is_not(None)
        stmt = stmt.where(cleared if filters["cleared"] else sa.not_(cleared))
    return stmt.order_by(Anomaly.detected_at.desc(), Anomaly.id.desc())


def _given(filters: dict, key: str) -> bool:
    return filters.get(key) not in (None, "")
