"""audit log: every state-changing action, append-only and chained by hash

Revision ID: matching_0006
Revises: matching_0005
Create Date: 2026-12-03 09:00:00
"""
from alembic import op

from shared.migration_ops import create_audit_log, drop_audit_log


revision = 'matching_0006'
down_revision = 'matching_0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log(op, 'matching')


def downgrade() -> None:
    drop_audit_log(op, 'matching')
