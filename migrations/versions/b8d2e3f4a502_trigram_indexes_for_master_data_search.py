"""trigram indexes for master data search

The master data search matches text anywhere in the key columns and the name (ILIKE '%text%'),
which no B-tree can answer: at a million products each search read whole tables (0.6 to 2.3 s,
bench/RESULTS.md). On PostgreSQL these are GIN indexes of trigrams (pg_trgm, a trusted
extension: the database owner may create it); elsewhere they are plain indexes, as the models
declare them. Building them on a database with the 1,000,000-product demo catalogue takes about
a minute, during which the tables take no writes.

Revision ID: b8d2e3f4a502
Revises: a7c1d2e3f401
Create Date: 2026-11-30 12:00:01.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.core.models


# revision identifiers, used by Alembic.
revision = 'b8d2e3f4a502'
down_revision = 'a7c1d2e3f401'
branch_labels = None
depends_on = None

# The searched columns of the tables that grow with the catalogue (portal.masterdata.products
# and prices declare the same indexes).
SEARCHED = (
    ('product', 'product_number'),
    ('product', 'name'),
    ('product_variant', 'variant_number'),
    ('barcode', 'barcode'),
    ('trade_agreement', 'price_group'),
    ('trade_agreement', 'product_number'),
    ('assortment_line', 'assortment_code'),
    ('assortment_line', 'product_number'),
)


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for table, column in SEARCHED:
        op.create_index(
            f'ix_{table}_{column}_trgm',
            table,
            [column],
            unique=False,
            postgresql_using='gin',
            postgresql_ops={column: 'gin_trgm_ops'},
        )


def downgrade():
    for table, column in reversed(SEARCHED):
        op.drop_index(f'ix_{table}_{column}_trgm', table_name=table)
    # pg_trgm stays: dropping it would fail, or take along, anything else that came to use it.
