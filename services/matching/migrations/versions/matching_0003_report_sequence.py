"""report sequence per application

Each application's matching results carry a sequence number that grows with every
report, so review keeps the newest one even when two of its workers receive two reports
of one round out of order.

Revision ID: matching_0003
Revises: matching_0002
Create Date: 2026-11-27 00:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'matching_0003'
down_revision = 'matching_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matching_applications') as batch:
        batch.add_column(sa.Column('reports', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('matching_applications') as batch:
        batch.drop_column('reports')
