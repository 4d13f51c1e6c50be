"""lost deliveries: a dead letter's count of deliveries that ended with their worker
process (hard time limit, crash), apart from the handler's failures

Revision ID: intake_0013
Revises: intake_0012
Create Date: 2026-12-02 23:45:00
"""
from alembic import op

from shared.migration_ops import add_lost_deliveries, drop_lost_deliveries


revision = 'intake_0013'
down_revision = 'intake_0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_lost_deliveries(op, 'intake')


def downgrade() -> None:
    drop_lost_deliveries(op, 'intake')
