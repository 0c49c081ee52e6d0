"""Rows appended while a block runs (`bulk.appending`): what the block's statements see, and
where an error of the rows or of the block surfaces, on the real database."""

from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa

from portal.core.extensions import db
from portal.transactions import bulk
from portal.transactions.ingest import LINE_COLUMNS, PAYMENT_COLUMNS
from portal.transactions.models import PosTransaction, TransactionLine, TransactionPayment
from tests.transactions.conftest import sale, send

pytestmark = pytest.mark.usefixtures("app_ctx")

NO_SALE = 10**9


def line(pk: int, number: int) -> tuple:
    price = Decimal("2.50")
    return (pk, number, f"P-{number:04d}", Decimal(1), price, Decimal(0), "", Decimal(0), False)


def writes(pk: int, lines: int) -> list[bulk.Rows]:
    return [
        (TransactionLine.__table__, LINE_COLUMNS, [line(pk, n) for n in range(2, lines + 2)]),
        (TransactionPayment.__table__, PAYMENT_COLUMNS, [(pk, 2, "card", Decimal("2.50"))]),
    ]


def lines_of(pk: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(TransactionLine.pos_transaction_id == pk)
    )


def payments_of(pk: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(TransactionPayment.pos_transaction_id == pk)
    )


@pytest.fixture
def stored_sale(client, register_device) -> int:
    """The row id of a sale uploaded with one line and one payment, committed."""
    send(client, register_device, sale())
    return db.session.scalar(sa.select(PosTransaction.id))


@pytest.fixture
def on_postgresql(app_ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the rows are written before the block elsewhere: nothing to overlap")


def test_the_blocks_first_statement_sees_every_row_of_every_table(stored_sale):
    with bulk.appending(writes(stored_sale, 3000)):
        seen = (lines_of(stored_sale), payments_of(stored_sale))

    assert seen == (3001, 2)
    db.session.commit()
    assert (lines_of(stored_sale), payments_of(stored_sale)) == (3001, 2)


def test_the_rows_are_written_when_the_block_runs_no_statement(stored_sale):
    with bulk.appending(writes(stored_sale, 10)):
        pass

    db.session.commit()
    assert (lines_of(stored_sale), payments_of(stored_sale)) == (11, 2)


def test_nothing_to_append_leaves_the_block_alone(stored_sale):
    with bulk.appending([(TransactionLine.__table__, LINE_COLUMNS, [])]):
        assert lines_of(stored_sale) == 1


@pytest.mark.usefixtures("on_postgresql")
def test_a_row_the_database_refuses_fails_the_blocks_first_statement(stored_sale):
    ran = []
    refused = [(TransactionLine.__table__, LINE_COLUMNS, [line(NO_SALE, 1)])]
    with pytest.raises(sa.exc.IntegrityError, match="foreign key"), bulk.appending(refused):
        ran.append("python before it")
        lines_of(stored_sale)
        ran.append("after it")

    assert ran == ["python before it"]
    db.session.rollback()
    assert lines_of(stored_sale) == 1


@pytest.mark.usefixtures("on_postgresql")
def test_a_row_the_database_refuses_fails_the_blocks_end_when_it_runs_no_statement(
    stored_sale,
):
    refused = [(TransactionPayment.__table__, PAYMENT_COLUMNS, [(NO_SALE, 1, "cash", 1)])]
    # Raised by the driver itself: no statement of the engine's was running.
    with (
        pytest.raises(psycopg.errors.ForeignKeyViolation),
        bulk.appending(writes(stored_sale, 5) + refused),
    ):
        pass

    db.session.rollback()
    assert (lines_of(stored_sale), payments_of(stored_sale)) == (1, 1)


@pytest.mark.usefixtures("on_postgresql")
def test_an_error_of_the_block_wins_and_the_connection_stays_usable(stored_sale):
    refused = [(TransactionLine.__table__, LINE_COLUMNS, [line(NO_SALE, 1)])]
    with pytest.raises(ZeroDivisionError), bulk.appending(refused):
        1 / 0  # noqa: B018

    db.session.rollback()
    assert lines_of(stored_sale) == 1
    with bulk.appending(writes(stored_sale, 2)):
        assert lines_of(stored_sale) == 3
    db.session.commit()
