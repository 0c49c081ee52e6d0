"""price history for the price check

Every version of each trade agreement and of each product's base price, so the price mismatch
rule judges a sale against the price its register had (portal.masterdata.history). The rows
there already get one entry each: their current version.

Revision ID: c9e3f4a5b603
Revises: b8d2e3f4a502
Create Date: 2026-11-30 12:10:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.core.models


# revision identifiers, used by Alembic.
revision = 'c9e3f4a5b603'
down_revision = 'b8d2e3f4a502'
branch_labels = None
depends_on = None

AGREEMENT_COLUMNS = (
    'price_group, product_number, valid_from, valid_to, unit_price, currency, deleted, row_version'
)
PRODUCT_COLUMNS = 'product_number, base_price, deleted, row_version'


def upgrade():
    op.create_table('trade_agreement_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('price_group', sa.String(length=30), nullable=False),
    sa.Column('product_number', sa.String(length=30), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('row_version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_agreement_history'))
    )
    op.create_table('product_price_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_number', sa.String(length=30), nullable=False),
    sa.Column('base_price', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('row_version', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_price_history'))
    )
    # Filled before indexing: one pass to build each index beats a million index inserts.
    op.execute(
        f'INSERT INTO trade_agreement_history ({AGREEMENT_COLUMNS}) '
        f'SELECT {AGREEMENT_COLUMNS} FROM trade_agreement ORDER BY id'
    )
    op.execute(
        f'INSERT INTO product_price_history ({PRODUCT_COLUMNS}) '
        f'SELECT {PRODUCT_COLUMNS} FROM product ORDER BY id'
    )
    op.create_index(
        'ix_trade_agreement_history_key',
        'trade_agreement_history',
        ['product_number', 'price_group', 'valid_from', 'row_version'],
        unique=False,
    )
    op.create_index(
        'ix_product_price_history_key',
        'product_price_history',
        ['product_number', 'row_version'],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_product_price_history_key', table_name='product_price_history')
    op.drop_index('ix_trade_agreement_history_key', table_name='trade_agreement_history')
    op.drop_table('product_price_history')
    op.drop_table('trade_agreement_history')
