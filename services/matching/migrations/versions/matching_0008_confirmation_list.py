"""委任情報確認依頼: the application number, the delegatee's name and the affair as columns
(searched and sorted by the list of requests)

Revision ID: matching_0008
Revises: matching_0007
Create Date: 2026-12-03 04:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'matching_0008'
down_revision = 'matching_0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('matching_confirmations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('delegatee_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('affair', sa.String(length=400), nullable=True))
    # requests made before: the columns from their application's last payload and record
    confirmations = sa.table('matching_confirmations', sa.column('id', sa.Integer),
                             sa.column('record_id', sa.Integer),
                             sa.column('application_id', sa.Integer),
                             sa.column('number', sa.String), sa.column('delegatee_name', sa.String),
                             sa.column('affair', sa.String))
    applications = sa.table('matching_applications', sa.column('application_id', sa.Integer),
                            sa.column('payload', sa.JSON))
    records = sa.table('matching_records', sa.column('id', sa.Integer), sa.column('data', sa.JSON))
    bind = op.get_bind()
    payloads = dict(bind.execute(sa.select(applications.c.application_id,
                                           applications.c.payload)).all())
    rows = bind.execute(sa.select(confirmations.c.id, confirmations.c.application_id,
                                  records.c.data).join(
        records, records.c.id == confirmations.c.record_id)).all()
    values = []
    for cid, app_id, data in rows:
        payload = payloads.get(app_id) or {}
        values.append({"cid": cid,
                       "number": str(payload.get("number") or "")[:40] or None,
                       "name": str(payload.get("org_name") or "")[:200] or None,
                       "affair": str((data or {}).get("affair") or "")[:400] or None})
    if values:
        bind.execute(confirmations.update().where(
            confirmations.c.id == sa.bindparam("cid")).values(
            number=sa.bindparam("number"), delegatee_name=sa.bindparam("name"),
            affair=sa.bindparam("affair")), values)


def downgrade() -> None:
    with op.batch_alter_table('matching_confirmations', schema=None) as batch_op:
        batch_op.drop_column('affair')
        batch_op.drop_column('delegatee_name')
        batch_op.drop_column('number')
