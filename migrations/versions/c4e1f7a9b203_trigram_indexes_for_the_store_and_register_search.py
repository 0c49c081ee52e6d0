"""trigram indexes for the store and register search

The register list (and a bulk change's selection) searches a register number anywhere, the store
list a store's number and name (ILIKE '%text%'): at 10,000 stores × 5 registers each search read
the whole table, so the list filtered to a group and searched took 6 times as long as at 100
registers (bench/RESULTS.md). As for the master data, GIN indexes of trigrams on PostgreSQL,
plain indexes elsewhere, as the models declare them.

Revision ID: c4e1f7a9b203
Revises: b2a37a418215
Create Date: 2026-12-07 06:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e1f7a9b203'
down_revision = 'b2a37a418215'
branch_labels = None
depends_on = None

SEARCHED = (
    ('store', 'store_number'),
    ('store', 'name'),
    ('register', 'register_number'),
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
