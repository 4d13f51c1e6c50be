"""dead letters: messages whose handler kept failing, kept for an operator

Revision ID: intake_0009
Revises: intake_0008
Create Date: 2026-12-02 18:45:00
"""
from alembic import op

from shared.migration_ops import create_dead_letters, drop_dead_letters


revision = 'intake_0009'
down_revision = 'intake_0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letters(op, 'intake')


def downgrade() -> None:
    drop_dead_letters(op, 'intake')
