"""decisions record the unresolved matching results 総務省 acknowledged

Revision ID: review_0004
Revises: review_0003
Create Date: 2026-12-02 17:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'review_0004'
down_revision = 'review_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_matching', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_column('acknowledged_matching')
