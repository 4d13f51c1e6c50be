"""account requests: the requested login and the requester's name as columns (searched
and sorted by the operators' list), every account issued on a request

Revision ID: intake_0017
Revises: intake_0016
Create Date: 2026-12-03 04:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0017'
down_revision = 'intake_0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_account_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_login', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('requester_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('issued_accounts', sa.JSON(), nullable=True))
    # requests filed before: the columns from the request's own data
    requests = sa.table('intake_account_requests', sa.column('application_id', sa.Integer),
                        sa.column('requested_login', sa.String),
                        sa.column('requester_name', sa.String))
    forms = sa.table('intake_forms', sa.column('application_id', sa.Integer),
                     sa.column('code', sa.String), sa.column('data', sa.JSON))
    bind = op.get_bind()
    rows = bind.execute(sa.select(forms.c.application_id, forms.c.data).where(
        forms.c.code == 'account', forms.c.application_id.in_(
            sa.select(requests.c.application_id)))).all()
    values = [{"app": app_id, "login": str((data or {}).get("login") or "")[:100] or None,
               "name": str((data or {}).get("name") or "")[:100] or None}
              for app_id, data in rows]
    if values:
        bind.execute(requests.update().where(
            requests.c.application_id == sa.bindparam("app")).values(
            requested_login=sa.bindparam("login"), requester_name=sa.bindparam("name")),
            values)


def downgrade() -> None:
    with op.batch_alter_table('intake_account_requests', schema=None) as batch_op:
        batch_op.drop_column('issued_accounts')
        batch_op.drop_column('requester_name')
        batch_op.drop_column('requested_login')
