"""applications: the organisations review routed the current round to (by stage)

Revision ID: intake_0014
Revises: intake_0013
Create Date: 2026-12-02 23:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'intake_0014'
down_revision = 'intake_0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routes', sa.JSON(), nullable=True))
    # Applications under review now: the stage review last reported is known.
    apps = sa.table('intake_applications', sa.column('id', sa.Integer),
                    sa.column('stage', sa.String), sa.column('reviewer_org_id', sa.String),
                    sa.column('routes', sa.JSON))
    bind = op.get_bind()
    rows = bind.execute(sa.select(apps.c.id, apps.c.stage, apps.c.reviewer_org_id).where(
        apps.c.stage.is_not(None), apps.c.reviewer_org_id.is_not(None))).all()
    for app_id, stage, org_id in rows:
        bind.execute(apps.update().where(apps.c.id == app_id).values(routes={stage: org_id}))


def downgrade() -> None:
    with op.batch_alter_table('intake_applications', schema=None) as batch_op:
        batch_op.drop_column('routes')
