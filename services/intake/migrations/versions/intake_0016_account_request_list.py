"""account requests: the requested login and the requester's name as columns (searched
and sorted by the operators' list), every account issued on a request

Revision ID: intake_0016
Revises: intake_0015
Create Date: 2026-12-03 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0016'
down_revision = 'intake_0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_account_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_login', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('requester_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('issued_accounts', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('intake_account_requests', schema=None) as batch_op:
        batch_op.drop_column('issued_accounts')
        batch_op.drop_column('requester_name')
        batch_op.drop_column('requested_login')
