"""restricted table of 様02-06 self-check results; matching status updates

Revision ID: master_0003
Revises: master_0002
Create Date: 2026-12-02 17:10:00

(様03-06's approved content goes to the versioned rows as the table ``connections``; no
schema change is needed for it.)
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'master_0003'
down_revision = 'master_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'master_restricted_self_checks',
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('org_id', name=op.f('pk_master_restricted_self_checks')))
    op.create_table(
        'master_matching_updates',
        sa.Column('table_name', sa.String(length=40), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=40), nullable=False),
        sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('table_name', 'key', name=op.f('pk_master_matching_updates')))
    with op.batch_alter_table('master_matching_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_master_matching_updates_org_id'), ['org_id'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('master_matching_updates')
    op.drop_table('master_restricted_self_checks')
