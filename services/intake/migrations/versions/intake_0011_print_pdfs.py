"""print pdfs: the PDF of an application's print view, one per revision of the document

Revision ID: intake_0011
Revises: intake_0010
Create Date: 2026-12-02 23:30:00
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'intake_0011'
down_revision = 'intake_0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intake_print_pdfs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('converter', sa.String(length=20), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['intake_applications.id'], name=op.f('fk_intake_print_pdfs_application_id_intake_applications')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_print_pdfs')),
    sa.UniqueConstraint('application_id', 'revision', name=op.f('uq_intake_print_pdfs_application_id'))
    )
    with op.batch_alter_table('intake_print_pdfs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_print_pdfs_application_id'), ['application_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('intake_print_pdfs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_print_pdfs_application_id'))
    op.drop_table('intake_print_pdfs')
