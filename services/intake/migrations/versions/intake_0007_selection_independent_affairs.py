"""selections list the 独自利用事務 (条例連携) that 様03-09's rows come from

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-12-02 18:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0007'
down_revision = 'intake_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_selections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('independent_affairs', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('intake_selections', schema=None) as batch_op:
        batch_op.drop_column('independent_affairs')
