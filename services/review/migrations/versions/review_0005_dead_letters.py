"""dead letters: messages whose handler kept failing, kept for an operator

Revision ID: review_0005
Revises: review_0004
Create Date: 2026-12-02 18:45:00
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'review_0005'
down_revision = 'review_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'review_dead_letters',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=100), nullable=False),
        sa.Column('sender', sa.String(length=40), nullable=False),
        sa.Column('task_name', sa.String(length=200), nullable=False),
        sa.Column('envelope', sa.JSON(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('first_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_review_dead_letters')))
    with op.batch_alter_table('review_dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_dead_letters_application_id'),
                              ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_dead_letters_status'), ['status'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('review_dead_letters')
