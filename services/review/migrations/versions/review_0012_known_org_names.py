"""known organisation names: the registry's name beside each organisation id intake
announces (organisations.directory), for the pages

Revision ID: review_0012
Revises: review_0011
Create Date: 2026-12-03 11:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'review_0012'
down_revision = 'review_0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_known_orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_known_orgs', schema=None) as batch_op:
        batch_op.drop_column('name')
