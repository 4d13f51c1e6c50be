"""deadline notices: what applicants of returned cases were told of a phase deadline

Revision ID: review_0011
Revises: review_0010
Create Date: 2026-12-03 00:00:00
"""
from alembic import op
import sqlalchemy as sa

import shared.db


revision = 'review_0011'
down_revision = 'review_0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_deadline_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(length=30), nullable=False),
    sa.Column('notice', sa.String(length=20), nullable=False),
    sa.Column('sent_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_cases.id'], name=op.f('fk_review_deadline_notices_case_id_review_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_deadline_notices')),
    sa.UniqueConstraint('case_id', 'round', 'phase', 'notice', name=op.f('uq_review_deadline_notices_case_id'))
    )
    with op.batch_alter_table('review_deadline_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_deadline_notices_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_deadline_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_deadline_notices_case_id'))
    op.drop_table('review_deadline_notices')
