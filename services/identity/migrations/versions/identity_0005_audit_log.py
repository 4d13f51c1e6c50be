"""audit log: every state-changing action, append-only and chained by hash

Revision ID: identity_0005
Revises: identity_0004
Create Date: 2026-12-03 09:00:00
"""
from alembic import op

from shared.migration_ops import create_audit_log, drop_audit_log


revision = 'identity_0005'
down_revision = 'identity_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log(op, 'identity')


def downgrade() -> None:
    drop_audit_log(op, 'identity')
