"""organisations: attributes read from the reference data (保健所設置市)

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-12-02 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0006'
down_revision = 'intake_0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference_attributes', sa.JSON(), server_default='{}',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('intake_organisations', schema=None) as batch_op:
        batch_op.drop_column('reference_attributes')
