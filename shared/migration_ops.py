"""Schema operations several services' Alembic migrations share (each service keeps its
own table; the shape is the common package's, shared.messaging)."""
from __future__ import annotations

import sqlalchemy as sa

import shared.db


def create_dead_letters(op, service: str) -> None:
    """``<service>_dead_letters`` (shared.messaging.DeadLetterMixin)."""
    table = f"{service}_dead_letters"
    op.create_table(
        table,
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=100), nullable=False),
        sa.Column('sender', sa.String(length=40), nullable=False),
        sa.Column('task_name', sa.String(length=200), nullable=False),
        sa.Column('envelope', sa.JSON(), nullable=False),
        sa.Column('application_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('first_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')))
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{table}_application_id'), ['application_id'],
                              unique=False)
        batch_op.create_index(batch_op.f(f'ix_{table}_status'), ['status'], unique=False)


def drop_dead_letters(op, service: str) -> None:
    op.drop_table(f"{service}_dead_letters")


def add_lost_deliveries(op, service: str) -> None:
    """``lost`` and ``started_at`` of ``<service>_dead_letters``: deliveries that ended
    with their worker process, counted apart from the handler's failures."""
    with op.batch_alter_table(f"{service}_dead_letters", schema=None) as batch_op:
        batch_op.add_column(sa.Column('lost', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('started_at', shared.db.UTCDateTime(timezone=True),
                                      nullable=True))


def drop_lost_deliveries(op, service: str) -> None:
    with op.batch_alter_table(f"{service}_dead_letters", schema=None) as batch_op:
        batch_op.drop_column('started_at')
        batch_op.drop_column('lost')


def create_audit_log(op, service: str) -> None:
    """``<service>_audit_log`` (shared.audit.AuditLogMixin), append-only in the database
    too: a trigger refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL). Whoever owns
    the database can still drop the trigger: ``nws audit verify`` finds such edits from
    the hash chain. (A later batch migration of this table on SQLite recreates it and
    must create the triggers again.)"""
    table = f"{service}_audit_log"
    op.create_table(
        table,
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('action', sa.String(length=60), nullable=False),
        sa.Column('target', sa.String(length=200), nullable=False),
        sa.Column('actor_login', sa.String(length=100), nullable=False),
        sa.Column('actor_role', sa.String(length=30), nullable=False),
        sa.Column('actor_org', sa.String(length=40), nullable=False),
        sa.Column('subject_org', sa.String(length=40), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f(f'pk_{table}')),
        sa.UniqueConstraint('hash', name=op.f(f'uq_{table}_hash')))
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in ('at', 'action', 'target', 'actor_login', 'actor_org', 'subject_org'):
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)
    for statement in append_only_triggers(op.get_bind().dialect.name, table):
        op.execute(statement)


def append_only_triggers(dialect: str, table: str) -> list[str]:
    """The statements that make ``table`` refuse UPDATE and DELETE."""
    message = f"{table} is append-only"
    if dialect == "postgresql":
        return [
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = 'insufficient_privilege'; "
            f"END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
        ]
    if dialect == "sqlite":
        return [f"CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                for verb in ("update", "delete")]
    return []


def drop_audit_log(op, service: str) -> None:
    table = f"{service}_audit_log"
    op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {table}_append_only()")
