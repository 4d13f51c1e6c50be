"""matching results sequence

The sequence number of the matching results kept for an application (see
matching_0003), so an older report of the same round never replaces a newer one.

Revision ID: review_0003
Revises: review_0002
Create Date: 2026-11-27 00:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'review_0003'
down_revision = 'review_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_matching') as batch:
        batch.add_column(sa.Column('seq', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('review_matching') as batch:
        batch.drop_column('seq')
