"""the heartbeat tells mode since, database size, free disk, last error, paused sync

Existing rows get an empty last error and sync not paused.

Revision ID: 14a32e6ca285
Revises: f2b6c7d8e906
Create Date: 2026-12-07 01:42:26.403354

"""
from alembic import op
import sqlalchemy as sa

import portal.core.models


# revision identifiers, used by Alembic.
revision = '14a32e6ca285'
down_revision = 'f2b6c7d8e906'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('device_heartbeat', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode_since', portal.core.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('database_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('free_disk_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sync_paused', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('device_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode_since', portal.core.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('database_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('free_disk_bytes', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=1000), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sync_paused', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('device_status', schema=None) as batch_op:
        batch_op.drop_column('sync_paused')
        batch_op.drop_column('last_error')
        batch_op.drop_column('free_disk_bytes')
        batch_op.drop_column('database_bytes')
        batch_op.drop_column('mode_since')

    with op.batch_alter_table('device_heartbeat', schema=None) as batch_op:
        batch_op.drop_column('sync_paused')
        batch_op.drop_column('last_error')
        batch_op.drop_column('free_disk_bytes')
        batch_op.drop_column('database_bytes')
        batch_op.drop_column('mode_since')
