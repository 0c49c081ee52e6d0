"""The anomaly rules, run on every batch a device uploads."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.auditor import models as kinds
from portal.auditor.models import Anomaly
from portal.core.extensions import db
from portal.core.models import utcnow
from portal.core.sql import btree_lookups, is_postgresql
from portal.distribution import runs
from portal.distribution import services as distribution
from portal.distribution.models import DownloadSession
from portal.masterdata.prices import TradeAgreement
from portal.masterdata.products import Product
from portal.masterdata.tax import TaxRate
from portal.masterdata.versioning import committed_version
from portal.setup.offline_profiles import services as profiles
from portal.setup.registers import services as registers
from portal.setup.stores import services as stores_services
from portal.transactions.models import PosTransaction
from tests.factories import ProfileFactory
from tests.transactions.conftest import (
    device_headers,
    made,
    offline_database,
    send,
)

pytestmark = pytest.mark.usefixtures("app_ctx")


def found(kind: str | None = None) -> list[Anomaly]:
    """The anomalies recorded (of one kind), oldest first."""
    db.session.expire_all()
    stmt = sa.select(Anomaly).order_by(Anomaly.id)
    if kind:
        stmt = stmt.where(Anomaly.kind == kind)
    return list(db.session.scalars(stmt))


def sequence_of(anomaly: Anomaly) -> int:
    """The sequence number of the transaction an anomaly is on."""
    return db.session.get(PosTransaction, anomaly.pos_transaction_id).sequence


def kinds_found() -> list[str]:
    return sorted(a.kind for a in found())


def test_a_register_numbering_without_gaps_shows_nothing(client, register_device):
    send(client, register_device, *(made(sequence=n) for n in (41, 42, 43)))
    send(client, register_device, made(sequence=44))

    assert found() == []


def test_a_gap_is_found_on_the_next_sale_and_cleared_when_the_missing_ones_arrive(
    client, register_device
):
    send(client, register_device, *(made(sequence=n) for n in range(1, 6)))
    send(client, register_device, made(sequence=8))

    (gap,) = found(kinds.SEQUENCE_GAP)
    assert sequence_of(gap) == 8
    assert gap.detail["missing"] == [6, 7] and gap.detail["missing_count"] == 2
    assert gap.message == "Sequences 6 to 7 (2) are missing before 8."
    assert gap.cleared_at is None

    send(client, register_device, made(sequence=7))
    (gap,) = found(kinds.SEQUENCE_GAP)
    assert gap.detail["missing"] == [6] and gap.cleared_at is None

    send(client, register_device, made(sequence=6))
    (gap,) = found(kinds.SEQUENCE_GAP)
    assert gap.detail["missing"] == [] and gap.detail["missing_count"] == 0
    assert gap.cleared_at is not None
    assert "arrived" in gap.detail["cleared"]


def test_sales_arriving_out_of_order_open_each_gap_once(client, register_device):
    send(client, register_device, made(sequence=5))
    send(client, register_device, made(sequence=2))
    (gap,) = found(kinds.SEQUENCE_GAP)
    # The run below the first sale known belongs to that sale.
    assert (sequence_of(gap), gap.detail["missing"]) == (5, [3, 4])

    # In one batch: 10 after 5 opens 6..9; 12 opens 11; 4 falls into the known run.
    send(client, register_device, *(made(sequence=n) for n in (12, 4, 10)))
    gaps = {sequence_of(g): g.detail["missing"] for g in found(kinds.SEQUENCE_GAP)}
    assert gaps == {5: [3], 10: [6, 7, 8, 9], 12: [11]}

    send(client, register_device, *(made(sequence=n) for n in (3, 6, 7, 8, 9, 11)))
    assert [g.cleared_at is not None for g in found(kinds.SEQUENCE_GAP)] == [True] * 3


def test_registers_are_numbered_apart(client, store_device):
    send(client, store_device, made("HOUSTON-1", 1), made("HOUSTON-2", 3))
    send(client, store_device, made("HOUSTON-1", 2), made("HOUSTON-2", 4))

    assert found() == []


def test_other_content_for_a_stored_id_is_one_conflict_anomaly(client, register_device):
    first = made(sequence=1)
    other = first | {"staff": "000999"}
    send(client, register_device, first)

    send(client, register_device, other)
    send(client, register_device, other)  # the same other content again is not a new finding

    (conflict,) = found(kinds.CONFLICT)
    stored = db.session.scalar(sa.select(PosTransaction))
    assert conflict.pos_transaction_id == stored.id
    assert conflict.detail["stored_sha256"] == stored.content_sha256
    assert conflict.detail["received_sha256"] not in (None, stored.content_sha256)


def test_a_receipt_number_used_twice_in_a_store_is_flagged_on_the_later_sale(client, store_device):
    first = made("HOUSTON-1", 1)
    again = made("HOUSTON-2", 1) | {"receipt_number": first["receipt_number"]}

    send(client, store_device, first)
    send(client, store_device, again)

    (reused,) = found(kinds.RECEIPT_REUSED)
    later = db.session.scalar(
        sa.select(PosTransaction).filter_by(transaction_id=again["transaction_id"])
    )
    assert reused.pos_transaction_id == later.id
    assert reused.detail["other_transactions"] == [first["transaction_id"]]


def test_the_same_receipt_number_in_another_store_is_fine(client, store_device):
    dallas = device_headers(offline_database("DALLAS-1"))

    send(client, store_device, made("HOUSTON-1", 1, receipt_number="R-1"))
    send(client, dallas, made("DALLAS-1", 1, receipt_number="R-1"))

    assert found(kinds.RECEIPT_REUSED) == []


def test_a_receipt_lookup_never_goes_through_the_trigram_index(client, store_device):
    """The trigram index answers equality too, reading its whole pending list on every lookup
    (4.4 s for a batch's receipts, bench/RESULTS.md): within `btree_lookups` it is never used."""
    if not is_postgresql():
        pytest.skip("SQLite has no trigram index")
    send(client, store_device, made("HOUSTON-1", 1))
    # Twenty thousand sales and the btree on (store, receipt) gone: the planner prefers the
    # trigram index for a receipt wherever it may. Undone by the rollback below.
    table = PosTransaction.__table__
    copied = [c.name for c in table.c if c.name not in {"id", "receipt_number"}]
    n = sa.func.generate_series(1, 20_000).table_valued("n").render_derived()
    values = [
        sa.func.gen_random_uuid().cast(sa.String) if name == "transaction_id" else table.c[name]
        for name in copied
    ]
    try:
        db.session.execute(sa.text("DROP INDEX ix_pos_transaction_store_receipt"))
        db.session.execute(
            sa.insert(table).from_select(
                [*copied, "receipt_number"],
                sa.select(*values, sa.literal("R-").concat(n.c.n.cast(sa.String))).select_from(
                    table.join(n, sa.true())
                ),
            )
        )
        # Merged and analyzed, as when a cached plan was made: reading the index costs little.
        db.session.execute(
            sa.text("SELECT gin_clean_pending_list('ix_pos_transaction_receipt_number_trgm')")
        )
        db.session.execute(sa.text("ANALYZE pos_transaction"))
        lookup = sa.text("EXPLAIN SELECT id FROM pos_transaction WHERE receipt_number = 'R-7'")

        def plan() -> str:
            return " ".join(db.session.scalars(lookup))

        assert "receipt_number_trgm" in plan()
        with btree_lookups():
            assert "receipt_number_trgm" not in plan()
        assert "receipt_number_trgm" in plan()
    finally:
        db.session.rollback()


def test_the_reused_receipts_rule_looks_up_within_btree_lookups(client, store_device):
    statements: list[str] = []

    def seen(conn, cursor, statement, *_):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        send(client, store_device, made("HOUSTON-1", 1))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)

    lookup = next(
        i for i, s in enumerate(statements) if "PARTITION BY pos_transaction.store_id" in s
    )
    if is_postgresql():
        assert statements[lookup - 1] == "SET LOCAL enable_bitmapscan = off"
        assert statements[lookup + 1] == "RESET enable_bitmapscan"
    else:
        assert not any("enable_bitmapscan" in s for s in statements)


def price_list():
    """P-1001 at 4.99 base, 5.49 in HOUSTON's price group STD from yesterday; VAT20 at 20 %."""
    houston = stores_services.get_store("HOUSTON")
    houston.price_group = "STD"
    yesterday = utcnow().date() - timedelta(days=1)
    db.session.add_all(
        [
            Product(product_number="P-1001", name="Cola", base_price=Decimal("4.99")),
            TradeAgreement(
                price_group="STD",
                product_number="P-1001",
                unit_price=Decimal("5.49"),
                currency="USD",
                valid_from=yesterday,
            ),
            TaxRate(tax_code="VAT20", rate=Decimal("20"), valid_from=date(2020, 1, 1)),
            TaxRate(tax_code="VAT20", rate=Decimal("10"), valid_from=yesterday, valid_to=yesterday),
        ]
    )
    db.session.commit()


def earlier_today() -> timedelta:
    """How long ago a sale made earlier today (UTC) was: an hour ago is yesterday at 0:30."""
    now = utcnow()
    return (now - now.replace(hour=0, minute=0, second=0, microsecond=0)) / 2


def one_line(unit_price: str, tax: str, **line) -> dict:
    """Lines, payments and total of a sale of 2 units at this price with this tax."""
    total = str(2 * Decimal(unit_price) + Decimal(tax))
    return {
        "lines": [
            {
                "product": "P-1001",
                "quantity": "2",
                "unit_price": unit_price,
                "tax_code": "VAT20",
                "tax_amount": tax,
            }
            | line
        ],
        "payments": [{"method": "cash", "amount": total}],
        "total": total,
    }


def test_a_price_other_than_the_one_valid_that_day_is_a_mismatch(client, register_device):
    price_list()

    send(
        client,
        register_device,
        made(sequence=1, offline=False, **one_line("5.49", "2.20")),
        made(sequence=2, offline=False, **one_line("4.99", "2.00")),
        # Two days ago the group had no agreement yet: the base price held.
        made(sequence=3, offline=False, ago=timedelta(days=2), **one_line("4.99", "2.00")),
    )

    (mismatch,) = found(kinds.PRICE_MISMATCH)
    assert sequence_of(mismatch) == 2
    assert mismatch.detail | {"day": None, "valid_from": None} == {
        "line": 1,
        "product": "P-1001",
        "expected": "5.4900",
        "found": "4.99",
        "source": "trade_agreement",
        "day": None,
        "valid_from": None,
    }
    assert mismatch.message.startswith(
        "Line 1: P-1001 charged 4.99; expected 5.49 from the price list valid from "
    )


def test_overridden_prices_and_unknown_products_are_not_compared(client, register_device):
    price_list()

    send(
        client,
        register_device,
        made(sequence=1, offline=False, **one_line("1.00", "0.40", price_override=True)),
        made(sequence=2, offline=False, **one_line("1.00", "0.40", product="P-UNKNOWN")),
    )

    assert found(kinds.PRICE_MISMATCH) == []
    assert found(kinds.PRICE_OVERRIDE) == []  # made online: the cashier may type a price


def test_tax_other_than_the_rate_of_that_day_gives_is_a_mismatch(client, register_device):
    price_list()

    send(
        client,
        register_device,
        made(sequence=1, offline=False, ago=earlier_today(), **one_line("5.49", "2.20")),
        made(sequence=2, offline=False, ago=earlier_today(), **one_line("5.49", "2.21")),  # fine
        made(sequence=3, offline=False, ago=earlier_today(), **one_line("5.49", "1.10")),
        # Yesterday the rate was 10 %.
        made(sequence=4, offline=False, ago=timedelta(days=1), **one_line("5.49", "1.10")),
    )

    (mismatch,) = found(kinds.TAX_MISMATCH)
    assert sequence_of(mismatch) == 3
    assert (mismatch.detail["expected"], mismatch.detail["found"]) == ("2.20", "1.10")


def thresholds(minutes: int | None = None, total: str | None = None, register: str = ""):
    """Set HOUSTON's offline profile limits, or give the register a profile of its own."""
    if register:
        own = profiles.get_profile(ProfileFactory().name)
        own.max_offline_minutes, own.max_offline_total = minutes, total and Decimal(total)
        registers.get_register(register).offline_profile_id = own.id
    else:
        profile = stores_services.get_store("HOUSTON").offline_profile
        profile.max_offline_minutes, profile.max_offline_total = minutes, total and Decimal(total)
    db.session.commit()


def test_a_sale_made_after_too_long_offline(client, register_device):
    thresholds(minutes=60)
    now = utcnow()

    send(
        client,
        register_device,
        made(sequence=1, offline_since=(now - timedelta(hours=3)).isoformat()),
        made(sequence=2, offline_since=(now - timedelta(minutes=90)).isoformat()),
        made(sequence=3, offline=True),  # no offline_since: nothing to measure
    )

    (long,) = found(kinds.LONG_OFFLINE)
    assert sequence_of(long) == 1
    assert long.detail["offline_minutes"] == 120 and long.detail["max_offline_minutes"] == 60


def test_the_registers_own_profile_comes_before_its_stores(client, register_device):
    thresholds(minutes=60)
    thresholds(minutes=600, register="HOUSTON-1")

    send(
        client,
        register_device,
        made(sequence=1, offline_since=(utcnow() - timedelta(hours=3)).isoformat()),
    )

    assert found(kinds.LONG_OFFLINE) == []


def test_an_offline_sale_above_the_profiles_total(client, register_device):
    thresholds(total="10.00")

    send(
        client,
        register_device,
        made(sequence=1),  # 11.98 offline
        made(sequence=2, offline=False),
        made(sequence=3, **one_line("2.00", "0.80")),
    )

    (large,) = found(kinds.OFFLINE_TOTAL)
    assert sequence_of(large) == 1
    assert large.detail == {"total": "11.98", "max_offline_total": "10.0000"}


def test_voids_returns_and_typed_prices_made_offline(client, register_device):
    send(
        client,
        register_device,
        made(sequence=1, kind="void"),
        made(sequence=2, kind="return"),
        made(sequence=3, **one_line("1.00", "0.40", price_override=True)),
        made(sequence=4, offline=False, kind="void"),
        made(sequence=5, offline=False, kind="return"),
    )

    assert {a.kind: sequence_of(a) for a in found()} == {
        kinds.OFFLINE_VOID: 1,
        kinds.OFFLINE_RETURN: 2,
        kinds.PRICE_OVERRIDE: 3,
    }
    assert found(kinds.PRICE_OVERRIDE)[0].detail["lines"][0]["line"] == 1


def test_sales_dated_in_the_future_or_long_ago(client, register_device, app):
    send(
        client,
        register_device,
        made(sequence=1, ago=timedelta(minutes=-30)),
        made(sequence=2, ago=timedelta(minutes=-2)),  # a register clock a little ahead
        made(sequence=3, ago=timedelta(days=31)),
        made(sequence=4, ago=timedelta(days=29)),
    )

    assert {a.kind: sequence_of(a) for a in found()} == {
        kinds.FUTURE_DATE: 1,
        kinds.OLD_DATE: 3,
    }


def test_how_old_is_too_old_is_configured(client, register_device, app, monkeypatch):
    monkeypatch.setitem(app.config, "ANOMALY_OLD_DAYS", 7)

    send(client, register_device, made(sequence=1, ago=timedelta(days=8)))

    assert kinds_found() == [kinds.OLD_DATE]


def test_duplicates_and_rejected_sales_add_no_anomalies(client, register_device):
    first = made(sequence=1, kind="void")
    send(client, register_device, first)

    send(client, register_device, first, made(sequence=9, total="1.00"))

    assert kinds_found() == [kinds.OFFLINE_VOID]


def applied(register: str, version: int, at, jobs: tuple[str, ...] = ("1020", "1040")) -> None:
    """Record that the register's offline database applied packages of these jobs (prices and
    products unless told)."""
    distribution.ensure_standard_jobs()
    store = stores_services.get_store(register.split("-")[0])
    code = f"P{version}{at.minute}{at.second}"
    schedule = distribution.create_schedule(
        {"code": code, "jobs": list(jobs), "groups": [store.channel_data_group.name]}
    )
    run = runs.request_run(schedule)
    database = offline_database(register)
    for job in jobs:
        db.session.add(
            DownloadSession(
                run=run,
                channel_database=database,
                job_number=job,
                new_version=version,
                status="applied",
                updated_at=at,
            )
        )
    db.session.commit()


def test_a_price_the_register_had_not_received_yet_is_not_a_mismatch(
    client, register_device, store_device
):
    now = utcnow()
    db.session.add(Product(product_number="P-1001", name="Cola", base_price=Decimal("4.99")))
    db.session.commit()
    applied("HOUSTON-1", committed_version(db.session.connection()), now - timedelta(hours=2))
    stores_services.get_store("HOUSTON").price_group = "STD"
    db.session.add(
        TradeAgreement(
            price_group="STD",
            product_number="P-1001",
            unit_price=Decimal("5.49"),
            currency="USD",
            valid_from=now.date() - timedelta(days=1),
        )
    )
    db.session.commit()
    applied("HOUSTON-1", committed_version(db.session.connection()), now - timedelta(minutes=30))

    send(
        client,
        register_device,
        # Offline an hour ago: its database had only the base price.
        made(sequence=1, ago=timedelta(hours=1)),
        # Offline ten minutes ago: the new price had arrived.
        made(sequence=2, ago=timedelta(minutes=10)),
    )
    # Online: the store's database has no package history, so HQ's data counts as it is.
    send(client, store_device, made("HOUSTON-2", 1, offline=False))

    mismatches = found(kinds.PRICE_MISMATCH)
    assert sorted((a.register.register_number, sequence_of(a)) for a in mismatches) == [
        ("HOUSTON-1", 2),
        ("HOUSTON-2", 1),
    ]
