"""account administration: organisation names from intake's directory, one-time
password links beside activation links (several per request: a 首長部局's request
issues its 経由 account too)

Revision ID: identity_0008
Revises: identity_0007
Create Date: 2026-12-03 04:00:00
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'identity_0008'
down_revision = 'identity_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_organisations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('generated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_organisations'))
    )
    with op.batch_alter_table('identity_activations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_identity_activations_request_id'), type_='unique')
        batch_op.alter_column('request_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('purpose', sa.String(length=20), nullable=False,
                                      server_default='issued'))
        batch_op.create_index(batch_op.f('ix_identity_activations_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('identity_activations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_activations_request_id'))
        batch_op.drop_column('purpose')
        batch_op.alter_column('request_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_identity_activations_request_id'), ['request_id'])
    op.drop_table('identity_organisations')
