"""the queue searched, filtered, sorted and paged in SQL: the organisation's name and
the form codes of each case as columns, and indexes for a page in order

Revision ID: review_0008
Revises: review_0007
Create Date: 2026-12-03 00:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'review_0008'
down_revision = 'review_0007'
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_name', sa.String(length=200), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('form_codes', sa.String(length=400), nullable=False,
                                      server_default='|'))
    cases = sa.table('review_cases', sa.column('id', sa.Integer), sa.column('org', sa.JSON),
                     sa.column('forms', sa.JSON), sa.column('org_name', sa.String),
                     sa.column('form_codes', sa.String))
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.select(cases.c.id, cases.c.org, cases.c.forms)
                            .where(cases.c.id > last).order_by(cases.c.id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            bind.execute(cases.update().where(cases.c.id == row.id).values(
                org_name=str((row.org or {}).get('name') or '')[:200],
                form_codes=('|' + '|'.join(sorted(row.forms or {})) + '|')[:400]))
        last = rows[-1].id
    op.create_index('ix_review_cases_reviewer_stage_since', 'review_cases',
                    ['reviewer_org_id', 'stage', 'stage_started_at'])
    op.create_index('ix_review_cases_since', 'review_cases', ['stage_started_at', 'id'])
    op.create_index('ix_review_cases_number', 'review_cases', ['number'])
    op.create_index('ix_review_cases_org_name', 'review_cases', ['org_name'])
    op.create_index('ix_review_cases_submitted', 'review_cases', ['submitted_at'])
    op.create_index('ix_review_decisions_reviewer_case', 'review_decisions',
                    ['reviewer_org_id', 'case_id'])


def downgrade() -> None:
    op.drop_index('ix_review_decisions_reviewer_case', table_name='review_decisions')
    for name in ('ix_review_cases_submitted', 'ix_review_cases_org_name',
                 'ix_review_cases_number', 'ix_review_cases_since'):
        op.drop_index(name, table_name='review_cases')
    op.drop_index('ix_review_cases_reviewer_stage_since', table_name='review_cases')
    with op.batch_alter_table('review_cases', schema=None) as batch_op:
        batch_op.drop_column('form_codes')
        batch_op.drop_column('org_name')
