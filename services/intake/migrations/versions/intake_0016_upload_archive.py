"""uploads: the .zip a workbook came in, and when a worker began reading it

Revision ID: intake_0016
Revises: intake_0015
Create Date: 2026-12-03 03:40:00
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'intake_0016'
down_revision = 'intake_0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_uploads') as batch:
        batch.add_column(sa.Column('archive', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('started_at', shared.db.UTCDateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('intake_uploads') as batch:
        batch.drop_column('started_at')
        batch.drop_column('archive')
