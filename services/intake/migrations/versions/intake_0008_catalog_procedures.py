"""catalog affairs list their individual procedures (手続) where known

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-12-02 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0008'
down_revision = 'intake_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_catalog_affairs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('procedures', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('intake_catalog_affairs', schema=None) as batch_op:
        batch_op.drop_column('procedures')
