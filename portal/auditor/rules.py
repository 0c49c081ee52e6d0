"""The anomaly rules HQ runs on every batch it takes in, in the batch's own database transaction.

`check` looks at the sales a batch stored and the conflicts it kept and adds one Anomaly per
finding (see portal.auditor.models for the kinds). Its cost follows the batch, not its lines:
a handful of queries per batch (registers and profiles, neighbouring sequences, open gaps,
reused receipts and ids, prices, tax rates, conflicts' sales) and one INSERT of every anomaly
found.

Sequence gaps are in `gaps`, expected prices and taxes in `pricing` (with their limits; the
price lists and tax rates as registers had them in `price_lists`), ids other registers used in
`reused_ids`.
The rules run on `transactions.signals.sales_stored`, which ingest sends with the batch's stores
locked since before it locked any stored sale (see `gaps` on concurrency): they read there, and
compare and write in the function `check` returns, while the database writes the lines.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, partial

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from portal.auditor import gaps, reused_ids
from portal.auditor.findings import finding
from portal.auditor.models import (
    CONFLICT,
    FUTURE_DATE,
    LONG_OFFLINE,
    OFFLINE_RETURN,
    OFFLINE_TOTAL,
    OFFLINE_VOID,
    OLD_DATE,
    PRICE_OVERRIDE,
    RECEIPT_REUSED,
    Anomaly,
)
from portal.auditor.pricing import PriceAndTaxCheck
from portal.core.extensions import db
from portal.core.sql import btree_lookups, is_postgresql, unnested
from portal.setup.models import OfflineProfile, Register, Store
from portal.transactions.models import KIND_RETURN, KIND_VOID, PosTransaction
from portal.transactions.signals import Arrival, KeptConflict

FUTURE_MINUTES = 5


@dataclass(frozen=True, slots=True)
class _Setting:
    store_id: int
    price_group: str | None
    max_offline_minutes: int | None
    max_offline_total: Decimal | None


def check(
    arrivals: list[Arrival], conflicts: list[KeptConflict], now: datetime
) -> Callable[[], int]:
    """Read what the anomalies of a batch's new sales and kept conflicts need; the function
    returned finds the rest and adds them all (how many were added).

    The reading needs the sales stored, not their lines and payments: ingest writes those while
    the function's Python runs (`transactions.signals.sales_stored`).
    """
    rows = _conflicts(conflicts, now)
    if not arrivals:
        return partial(_add, rows)
    settings = _settings({a.register_id for a in arrivals})
    rows += gaps.find(arrivals, now)
    receipts = _receipt_users(arrivals)
    rows += reused_ids.find(arrivals, now)
    prices = PriceAndTaxCheck(arrivals, {r: setting.price_group for r, setting in settings.items()})

    def finish() -> int:
        found = rows + _reused_receipts(arrivals, receipts, now) + prices.findings(now)
        old_days = current_app.config.get("ANOMALY_OLD_DAYS", 30)
        # The same two bounds for every sale of the batch.
        future, old = now + timedelta(minutes=FUTURE_MINUTES), now - timedelta(days=old_days)
        for arrival in arrivals:
            found += _one_sale(arrival, settings[arrival.register_id], now, (old, future))
        return _add(found)

    return finish


def _add(rows: list[dict]) -> int:
    """Store the anomaly rows, after what the rules changed of stored ones; how many."""
    db.session.flush()
    if rows:
        db.session.execute(sa.insert(Anomaly.__table__), rows)
    return len(rows)


def _settings(register_ids: set[int]) -> dict[int, _Setting]:
    """Price group and offline thresholds by register: its own profile, else its store's."""
    rows = db.session.execute(_settings_query(), {"registers": list(register_ids)})
    settings = {}
    for register, store, group, own_id, minutes, total, store_minutes, store_total in rows:
        if own_id is None:
            minutes, total = store_minutes, store_total
        settings[register] = _Setting(store, group, minutes, total)
    return settings


# Built once (per dialect), as the selects below: building them cost more than running them,
# on every batch.
@cache
def _settings_query() -> sa.Select:
    own, stores = aliased(OfflineProfile), aliased(OfflineProfile)
    return (
        sa.select(
            Register.id,
            Store.id,
            Store.price_group,
            own.id,
            own.max_offline_minutes,
            own.max_offline_total,
            stores.max_offline_minutes,
            stores.max_offline_total,
        )
        .join(Store, Store.id == Register.store_id)
        .outerjoin(own, own.id == Register.offline_profile_id)
        .outerjoin(stores, stores.id == Store.offline_profile_id)
        .where(Register.id.in_(sa.bindparam("registers", expanding=True)))
    )


def _one_sale(
    arrival: Arrival, setting: _Setting, now: datetime, bounds: tuple[datetime, datetime]
) -> list[dict]:
    """The rules that need nothing but the sale, its register's profile and the time: `bounds`
    are the oldest and the latest time a sale received `now` may have been made."""
    sale, found = arrival.sale, []
    old, future = bounds
    if sale.created_at > future:
        found.append(
            finding(
                FUTURE_DATE,
                arrival,
                f"Made {_duration(sale.created_at - now)} after HQ received it.",
                {"created_at": sale.created_at.isoformat(), "received_at": now.isoformat()},
                now,
            )
        )
    if sale.created_at < old:
        old_days = (now - old).days
        found.append(
            finding(
                OLD_DATE,
                arrival,
                f"Made {(now - sale.created_at).days} days before HQ received it "
                f"(more than {old_days}).",
                {
                    "created_at": sale.created_at.isoformat(),
                    "received_at": now.isoformat(),
                    "max_days": old_days,
                },
                now,
            )
        )
    if sale.offline:
        found += _offline(arrival, setting, now)
    return found


def _offline(arrival: Arrival, setting: _Setting, now: datetime) -> list[dict]:
    sale, found = arrival.sale, []
    limit = setting.max_offline_minutes
    if sale.offline_since is not None and limit is not None:
        offline_for = sale.created_at - sale.offline_since
        if offline_for > timedelta(minutes=limit):
            found.append(
                finding(
                    LONG_OFFLINE,
                    arrival,
                    f"Made after {_duration(offline_for)} offline; the profile allows "
                    f"{limit} minutes.",
                    {
                        "offline_since": sale.offline_since.isoformat(),
                        "offline_minutes": int(offline_for.total_seconds() // 60),
                        "max_offline_minutes": limit,
                    },
                    now,
                )
            )
    if setting.max_offline_total is not None and sale.total > setting.max_offline_total:
        found.append(
            finding(
                OFFLINE_TOTAL,
                arrival,
                f"Offline sale of {sale.total:.2f}; the profile allows "
                f"{setting.max_offline_total:.2f}.",
                {"total": str(sale.total), "max_offline_total": str(setting.max_offline_total)},
                now,
            )
        )
    for kind, anomaly, words in (
        (KIND_VOID, OFFLINE_VOID, "Voided"),
        (KIND_RETURN, OFFLINE_RETURN, "Returned"),
    ):
        if sale.kind == kind:
            found.append(
                finding(anomaly, arrival, f"{words} offline.", {"total": str(sale.total)}, now)
            )
    overridden = [n for n, line in enumerate(sale.lines, 1) if line["price_override"]]
    if overridden:
        found.append(
            finding(
                PRICE_OVERRIDE,
                arrival,
                f"Price typed by the cashier offline on line(s) {_numbers(overridden)}.",
                {
                    "lines": [
                        {
                            "line": n,
                            "product": sale.lines[n - 1]["product"],
                            "unit_price": str(sale.lines[n - 1]["unit_price"]),
                        }
                        for n in overridden
                    ]
                },
                now,
            )
        )
    return found


def _receipt_users(arrivals: list[Arrival]) -> dict[tuple[int, str], list[tuple[int, str]]]:
    """The stored sales (row id, transaction id) by (store, receipt number), of the batch's
    receipt numbers that more than one sale of the store used."""
    # Through the btree on (store, receipt), never the receipt numbers' trigram index.
    with btree_lookups():
        rows = db.session.execute(
            _receipts_query(is_postgresql()),
            {
                "stores": list({a.store_id for a in arrivals}),
                "receipt_values": sorted({a.sale.receipt_number for a in arrivals}),
            },
        ).all()
    users: dict[tuple[int, str], list[tuple[int, str]]] = {}
    for store, receipt, pk, transaction_id in rows:
        users.setdefault((store, receipt), []).append((pk, transaction_id))
    return users


def _reused_receipts(
    arrivals: list[Arrival], users: dict[tuple[int, str], list[tuple[int, str]]], now: datetime
) -> list[dict]:
    """A receipt number of a store used by another sale stored before (or earlier in the batch);
    `users` as `_receipt_users` read them."""
    found, batch = [], {a.pk for a in arrivals}
    for arrival in arrivals:
        # Another batch's sale was committed first (the store lock orders them) whatever its id;
        # within the batch the first stored keeps the number.
        earlier = sorted(
            (pk, tid)
            for pk, tid in users.get((arrival.store_id, arrival.sale.receipt_number), ())
            if pk not in batch or pk < arrival.pk
        )
        if earlier:
            found.append(
                finding(
                    RECEIPT_REUSED,
                    arrival,
                    f"Receipt {arrival.sale.receipt_number} was used before by "
                    f"{len(earlier)} other sale(s) of the store.",
                    {
                        "receipt_number": arrival.sale.receipt_number,
                        "other_transactions": [tid for _, tid in earlier[:20]],
                    },
                    now,
                )
            )
    return found


@cache
def _receipts_query(on_postgresql: bool) -> sa.Select:
    t = PosTransaction
    # A receipt number only one sale has is the new sale's own: nothing to flag, so only the
    # numbers more than one sale used come back (none, in a normal batch, where every one did).
    users = sa.func.count().over(partition_by=(t.store_id, t.receipt_number))
    stmt = sa.select(
        t.store_id, t.receipt_number, t.id, t.transaction_id, users.label("users")
    ).where(t.store_id.in_(sa.bindparam("stores", expanding=True)))
    if on_postgresql:
        # Joined to the batch's receipts: each one probe of the btree on (store, receipt), or a
        # hash join over the store's sales, where `= ANY(array)` compares every receipt.
        wanted = unnested(receipt=((), t.receipt_number.type))
        stmt = stmt.join(wanted, t.receipt_number == wanted.c.receipt)
    else:
        stmt = stmt.where(t.receipt_number.in_(sa.bindparam("receipt_values", expanding=True)))
    found = stmt.subquery()
    return sa.select(
        found.c.store_id, found.c.receipt_number, found.c.id, found.c.transaction_id
    ).where(found.c.users > 1)


def _conflicts(conflicts: list[KeptConflict], now: datetime) -> list[dict]:
    """One anomaly per kept conflict, on the sale stored first."""
    if not conflicts:
        return []
    t = PosTransaction
    where = dict(
        (pk, (register, store))
        for pk, register, store in db.session.execute(
            sa.select(t.id, t.register_id, t.store_id).where(t.id.in_({c.pk for c in conflicts}))
        )
    )
    return [
        {
            "kind": CONFLICT,
            "store_id": where[c.pk][1],
            "register_id": where[c.pk][0],
            "pos_transaction_id": c.pk,
            "message": "The sale came again with other content; the first one stays stored.",
            "detail": {
                "stored_sha256": c.stored_sha256,
                "received_sha256": c.received_sha256,
                "upload_session": c.upload_session_id,
            },
            "detected_at": now,
        }
        for c in conflicts
    ]


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _numbers(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)
