"""dead letters: messages whose handler kept failing, kept for an operator

Revision ID: matching_0005
Revises: matching_0004
Create Date: 2026-12-02 18:45:00
"""
from alembic import op

from shared.migration_ops import create_dead_letters, drop_dead_letters


revision = 'matching_0005'
down_revision = 'matching_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letters(op, 'matching')


def downgrade() -> None:
    drop_dead_letters(op, 'matching')
