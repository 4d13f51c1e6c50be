"""deadline notices about applications never submitted (one per application, phase and
notice)

Revision ID: intake_0015
Revises: intake_0014
Create Date: 2026-12-03 01:00:00
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'intake_0015'
down_revision = 'intake_0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'intake_deadline_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('phase', sa.String(length=40), nullable=False),
        sa.Column('notice', sa.String(length=20), nullable=False),
        sa.Column('sent_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['intake_applications.id'],
                                name=op.f('fk_intake_deadline_notices_application_id_intake_applications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_deadline_notices')),
        sa.UniqueConstraint('application_id', 'phase', 'notice',
                            name=op.f('uq_intake_deadline_notices_application_id')))


def downgrade() -> None:
    op.drop_table('intake_deadline_notices')
