"""registered content per organisation; withdrawal requests

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-02 17:00:00

Applications registered before this revision were registered by the master form by
form (a form included replaced the registered one whole), so the registered content is
rebuilt the same way: each organisation's registered applications in order, each form
they include replacing the one before, list rows without their 申請区分.
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = 'intake_0005'
down_revision = 'intake_0004'
branch_labels = None
depends_on = None

LIST_FIELDS = {"03-07": ("query_affairs", "provided_info"),
               "03-08": ("query_delegations", "provision_delegations", "provision_acceptances"),
               "03-09": ("independent_affairs",)}


def upgrade() -> None:
    with op.batch_alter_table('intake_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawal_requested_at',
                                      shared.db.UTCDateTime(timezone=True), nullable=True))
    registered = op.create_table(
        'intake_registered',
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('forms', sa.JSON(), nullable=False),
        sa.Column('selection', sa.JSON(), nullable=True),
        sa.Column('application_id', sa.Integer(), nullable=False),
        sa.Column('master_version', sa.Integer(), nullable=True),
        sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('org_id', name=op.f('pk_intake_registered')))
    _rebuild(op.get_bind(), registered)


def _rebuild(bind, registered) -> None:
    apps = sa.table('intake_applications', sa.column('id'), sa.column('org_id'),
                    sa.column('kind'), sa.column('status'), sa.column('master_version'))
    forms = sa.table('intake_forms', sa.column('application_id'), sa.column('code'),
                     sa.column('data', sa.JSON()))
    sels = sa.table('intake_selections', sa.column('application_id'),
                    sa.column('catalog_version'), sa.column('query_affairs', sa.JSON()),
                    sa.column('provided_info', sa.JSON()))
    rows = bind.execute(sa.select(apps.c.id, apps.c.org_id, apps.c.master_version)
                        .where(apps.c.status == 'registered',
                               apps.c.kind.in_(('connection', 'change')))
                        .order_by(apps.c.org_id, apps.c.master_version, apps.c.id)).all()
    content: dict[str, dict] = {}
    for app_id, org_id, version in rows:
        held = content.setdefault(org_id, {"forms": {}, "selection": None})
        for code, data in bind.execute(sa.select(forms.c.code, forms.c.data)
                                       .where(forms.c.application_id == app_id)):
            data = dict(data or {})
            for field in LIST_FIELDS.get(code, ()):
                data[field] = [{k: v for k, v in r.items() if k != "request_type"}
                               for r in data.get(field) or [] if isinstance(r, dict)]
            held["forms"][code] = data
        sel = bind.execute(sa.select(sels.c.catalog_version, sels.c.query_affairs,
                                     sels.c.provided_info)
                           .where(sels.c.application_id == app_id)).first()
        if sel is not None:
            held["selection"] = {"catalog_version": sel[0], "query_affairs": sel[1],
                                 "provided_info": sel[2]}
        held["application_id"], held["master_version"] = app_id, version
    if content:
        now = shared.db.utcnow()
        bind.execute(registered.insert(), [
            {"org_id": org_id, "forms": c["forms"], "selection": c["selection"],
             "application_id": c["application_id"], "master_version": c["master_version"],
             "updated_at": now} for org_id, c in content.items()])


def downgrade() -> None:
    op.drop_table('intake_registered')
    with op.batch_alter_table('intake_applications', schema=None) as batch_op:
        batch_op.drop_column('withdrawal_requested_at')
