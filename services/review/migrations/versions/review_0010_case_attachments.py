"""cases: the application's attachments as intake listed them at submission

Revision ID: review_0010
Revises: review_0009
Create Date: 2026-12-02 23:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'review_0010'
down_revision = 'review_0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.drop_column('attachments')
