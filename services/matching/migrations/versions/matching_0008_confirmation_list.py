"""委任情報確認依頼: the application number, the delegatee's name and the affair as columns
(searched and sorted by the list of requests)

Revision ID: matching_0008
Revises: matching_0007
Create Date: 2026-12-03 04:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'matching_0008'
down_revision = 'matching_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matching_confirmations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('delegatee_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('affair', sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matching_confirmations', schema=None) as batch_op:
        batch_op.drop_column('affair')
        batch_op.drop_column('delegatee_name')
        batch_op.drop_column('number')
