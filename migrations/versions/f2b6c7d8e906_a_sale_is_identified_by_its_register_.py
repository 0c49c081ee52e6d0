"""a sale is identified by its register and its id

A transaction id is unique per register, no longer across every register: the same id from
another register is that register's own sale (flagged as a reused id), so no device meets a sale
of a register it does not upload for.

On SQLite the table is copied to change the constraint; the expression index on receipt numbers
does not survive the copy (reflection skips it), so it is dropped first and made again after.
The downgrade fails while two registers' sales share an id: it cannot choose which to drop.

Revision ID: f2b6c7d8e906
Revises: e1a5b6c7d805
Create Date: 2026-12-06 23:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.core.models


# revision identifiers, used by Alembic.
revision = 'f2b6c7d8e906'
down_revision = 'e1a5b6c7d805'
branch_labels = None
depends_on = None


def upgrade():
    _change_constraint(
        'uq_pos_transaction_transaction_id',
        'uq_pos_transaction_transaction_register',
        ['transaction_id', 'register_id'],
    )


def downgrade():
    _change_constraint(
        'uq_pos_transaction_transaction_register',
        'uq_pos_transaction_transaction_id',
        ['transaction_id'],
    )


def _change_constraint(old: str, new: str, columns: list[str]) -> None:
    on_sqlite = op.get_bind().dialect.name == 'sqlite'
    if on_sqlite:
        op.drop_index('ix_pos_transaction_receipt_prefix', table_name='pos_transaction')
    with op.batch_alter_table('pos_transaction', schema=None) as batch_op:
        batch_op.drop_constraint(old, type_='unique')
        batch_op.create_unique_constraint(new, columns)
    if on_sqlite:
        op.create_index(
            'ix_pos_transaction_receipt_prefix',
            'pos_transaction',
            [sa.text('lower(receipt_number)')],
            unique=False,
        )
