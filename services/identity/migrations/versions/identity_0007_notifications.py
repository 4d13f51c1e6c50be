"""notifications: accounts' e-mail address and mail opt-outs, the in-app inbox, mails

Revision ID: identity_0007
Revises: identity_0006
Create Date: 2026-12-03 00:00:00
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'identity_0007'
down_revision = 'identity_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('identity_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('mail_opt_outs', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
    op.create_table('identity_notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=300), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['identity_accounts.id'], name=op.f('fk_identity_notifications_account_id_identity_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_notifications'))
    )
    with op.batch_alter_table('identity_notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_notifications_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_notifications_created_at'), ['created_at'], unique=False)
    op.create_table('identity_mails',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['identity_notifications.id'], name=op.f('fk_identity_mails_notification_id_identity_notifications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_mails'))
    )
    with op.batch_alter_table('identity_mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_mails_notification_id'), ['notification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_mails_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_mails_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_table('identity_mails')
    op.drop_table('identity_notifications')
    with op.batch_alter_table('identity_accounts', schema=None) as batch_op:
        batch_op.drop_column('mail_opt_outs')
        batch_op.drop_column('email')
