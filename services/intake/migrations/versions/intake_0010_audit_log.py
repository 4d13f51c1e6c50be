"""audit log: every state-changing action, append-only and chained by hash

Revision ID: intake_0010
Revises: intake_0009
Create Date: 2026-12-03 09:00:00
"""
from alembic import op

from shared.migration_ops import create_audit_log, drop_audit_log


revision = 'intake_0010'
down_revision = 'intake_0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log(op, 'intake')


def downgrade() -> None:
    drop_audit_log(op, 'intake')
