"""a change application's records supersede the registered application's

Revision ID: matching_0004
Revises: matching_0003
Create Date: 2026-12-02 17:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'matching_0004'
down_revision = 'matching_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matching_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supersedes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matching_applications', schema=None) as batch_op:
        batch_op.drop_column('payload')
        batch_op.drop_column('supersedes')
