"""browser sign-ins that can be ended

One row per browser signed in; its session and remember cookies carry the row's secret instead of
the user's id, so signing out (here or everywhere), a new password or a deactivation ends it for
good. Browsers signed in before this revision carry only a user id, which no longer signs in:
everyone signs in once more.

Revision ID: e1a5b6c7d805
Revises: d0f4a5b6c704
Create Date: 2026-12-06 23:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.core.models


# revision identifiers, used by Alembic.
revision = 'e1a5b6c7d805'
down_revision = 'd0f4a5b6c704'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.core.models.UTCDateTime(), nullable=False),
    sa.Column('expires_at', portal.core.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sign_in_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_sign_in_token_hash'))
    )
    with op.batch_alter_table('sign_in', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sign_in', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_user_id'))

    op.drop_table('sign_in')
