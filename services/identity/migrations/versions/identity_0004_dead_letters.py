"""dead letters: messages whose handler kept failing, kept for an operator

Revision ID: identity_0004
Revises: identity_0003
Create Date: 2026-12-02 18:45:00
"""
from alembic import op

from shared.migration_ops import create_dead_letters, drop_dead_letters


revision = 'identity_0004'
down_revision = 'identity_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letters(op, 'identity')


def downgrade() -> None:
    drop_dead_letters(op, 'identity')
