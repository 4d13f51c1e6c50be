"""review decisions kept for the workbooks' reviewers' block; the schedule's copy and
late allowances (deadlines for applicants)

Revision ID: intake_0012
Revises: intake_0011
Create Date: 2026-12-03 00:00:00
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'intake_0012'
down_revision = 'intake_0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'intake_review_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('result', sa.String(length=10), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('reviewer_org_id', sa.String(length=40), nullable=False),
        sa.Column('reviewer_org_name', sa.String(length=200), nullable=False),
        sa.Column('reviewer_department', sa.String(length=100), nullable=False),
        sa.Column('reviewer_name', sa.String(length=100), nullable=False),
        sa.Column('decided_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['intake_applications.id'],
                                name=op.f('fk_intake_review_decisions_application_id_intake_applications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_review_decisions')),
        sa.UniqueConstraint('application_id', 'round', 'stage',
                            name=op.f('uq_intake_review_decisions_application_id')))
    with op.batch_alter_table('intake_review_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_review_decisions_application_id'),
                              ['application_id'], unique=False)
    op.create_table(
        'intake_schedule',
        sa.Column('phase', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=True),
        sa.Column('ends_on', sa.Date(), nullable=True),
        sa.Column('published_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('phase', name=op.f('pk_intake_schedule')))
    op.create_table(
        'intake_late_allowances',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phase', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=True),
        sa.Column('application_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('granted_by', sa.JSON(), nullable=False),
        sa.Column('granted_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['application_id'], ['intake_applications.id'],
                                name=op.f('fk_intake_late_allowances_application_id_intake_applications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_late_allowances')))
    with op.batch_alter_table('intake_late_allowances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_late_allowances_application_id'),
                              ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_late_allowances_org_id'),
                              ['org_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('intake_late_allowances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_late_allowances_org_id'))
        batch_op.drop_index(batch_op.f('ix_intake_late_allowances_application_id'))
    op.drop_table('intake_late_allowances')
    op.drop_table('intake_schedule')
    with op.batch_alter_table('intake_review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_review_decisions_application_id'))
    op.drop_table('intake_review_decisions')
