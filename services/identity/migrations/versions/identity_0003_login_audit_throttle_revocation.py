"""login audit, login throttle, revoked tokens, account token generation

Revision ID: identity_0003
Revises: identity_0002
Create Date: 2026-12-01 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'identity_0003'
down_revision = 'identity_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_login_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('login', sa.String(length=100), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_login_audit'))
    )
    with op.batch_alter_table('identity_login_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_login_audit_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_login_audit_login'), ['login'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_login_audit_address'), ['address'], unique=False)

    op.create_table('identity_login_throttle',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('blocked_until', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_identity_login_throttle'))
    )
    with op.batch_alter_table('identity_login_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_login_throttle_last_failure_at'), ['last_failure_at'], unique=False)

    op.create_table('identity_revoked_tokens',
    sa.Column('token_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_id', name=op.f('pk_identity_revoked_tokens'))
    )
    with op.batch_alter_table('identity_revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_revoked_tokens_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_revoked_tokens_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('identity_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_generation', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('sessions_ended_at', shared.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('identity_accounts', schema=None) as batch_op:
        batch_op.drop_column('sessions_ended_at')
        batch_op.drop_column('token_generation')

    with op.batch_alter_table('identity_revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_revoked_tokens_expires_at'))
        batch_op.drop_index(batch_op.f('ix_identity_revoked_tokens_account_id'))

    op.drop_table('identity_revoked_tokens')
    with op.batch_alter_table('identity_login_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_login_throttle_last_failure_at'))

    op.drop_table('identity_login_throttle')
    with op.batch_alter_table('identity_login_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_login_audit_address'))
        batch_op.drop_index(batch_op.f('ix_identity_login_audit_login'))
        batch_op.drop_index(batch_op.f('ix_identity_login_audit_at'))

    op.drop_table('identity_login_audit')
