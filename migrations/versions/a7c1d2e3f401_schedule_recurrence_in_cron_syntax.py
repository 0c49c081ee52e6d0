"""schedule recurrence in cron syntax

Revision ID: a7c1d2e3f401
Revises: d5663bd020cb
Create Date: 2026-11-30 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.core.models


# revision identifiers, used by Alembic.
revision = 'a7c1d2e3f401'
down_revision = 'd5663bd020cb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('distribution_schedule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cron', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))


def downgrade():
    with op.batch_alter_table('distribution_schedule', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('cron')
