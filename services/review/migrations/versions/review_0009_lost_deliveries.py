"""lost deliveries: a dead letter's count of deliveries that ended with their worker
process (hard time limit, crash), apart from the handler's failures

Revision ID: review_0009
Revises: review_0008
Create Date: 2026-12-02 23:45:00
"""
from alembic import op

from shared.migration_ops import add_lost_deliveries, drop_lost_deliveries


revision = 'review_0009'
down_revision = 'review_0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_lost_deliveries(op, 'review')


def downgrade() -> None:
    drop_lost_deliveries(op, 'review')
