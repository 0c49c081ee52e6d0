"""tax rate history for the tax check

Every version of each tax rate, so the tax mismatch rule judges a sale against the rate its
register had, as the price check does with prices. The rows there already get one entry each:
their current version.

Revision ID: d0f4a5b6c704
Revises: c9e3f4a5b603
Create Date: 2026-11-30 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.core.models


# revision identifiers, used by Alembic.
revision = 'd0f4a5b6c704'
down_revision = 'c9e3f4a5b603'
branch_labels = None
depends_on = None

COLUMNS = 'tax_code, valid_from, valid_to, rate, deleted, row_version'


def upgrade():
    op.create_table('tax_rate_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tax_code', sa.String(length=20), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('rate', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('row_version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_rate_history'))
    )
    op.execute(
        f'INSERT INTO tax_rate_history ({COLUMNS}) SELECT {COLUMNS} FROM tax_rate ORDER BY id'
    )
    op.create_index(
        'ix_tax_rate_history_key',
        'tax_rate_history',
        ['tax_code', 'valid_from', 'row_version'],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_tax_rate_history_key', table_name='tax_rate_history')
    op.drop_table('tax_rate_history')
