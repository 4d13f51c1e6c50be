"""A pooled connection the server dropped while it sat idle (longer than
shared.db.PING_AFTER_IDLE) is pinged when taken from the pool and replaced, not handed
out to fail."""
from __future__ import annotations

import psycopg
from sqlalchemy import text

from shared import db as dbmod
from shared.db import Database

from tests.distributed.conftest import PG_ADMIN


def _backend_pid(database: Database) -> int:
    with database.transaction() as session:
        return session.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_dropped_while_idle_is_replaced(pg_database, monkeypatch):
    database = Database(pg_database)
    try:
        first = _backend_pid(database)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        monkeypatch.setattr(dbmod, "PING_AFTER_IDLE", 0.0)   # it has now been idle long enough
        second = _backend_pid(database)
        assert second != first
    finally:
        database.dispose()
