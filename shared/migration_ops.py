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
