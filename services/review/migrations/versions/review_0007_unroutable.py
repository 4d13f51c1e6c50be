"""unroutable cases: why a case could not be routed, and the organisation ids of
intake's registry that a router may name

Revision ID: review_0007
Revises: review_0006
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa

import shared.db


revision = 'review_0007'
down_revision = 'review_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routing_problem', sa.JSON(), nullable=True))
    op.create_table(
        'review_known_orgs',
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('generated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('org_id', name=op.f('pk_review_known_orgs')))


def downgrade() -> None:
    op.drop_table('review_known_orgs')
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.drop_column('routing_problem')
