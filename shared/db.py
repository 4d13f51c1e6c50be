"""Storage: one SQLAlchemy engine per service, and helpers every service uses.

Each service declares its own ``Base`` with :func:`make_base`, so its tables live in
its own ``MetaData`` (and its own Alembic history); table names carry the service's
name as a prefix, so several services can share one PostgreSQL database without
touching each other's tables.
"""
from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from shared import jsonfast

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


def advisory_xact_lock(session: Session, *key: int) -> None:
    """Take a transaction-scoped advisory lock on PostgreSQL (``pg_advisory_xact_lock``
    with one bigint or two int keys), held until commit or rollback: transactions that
    must not interleave take turns even when there is no row to lock yet. A no-op on
    SQLite, which already admits one writer at a time (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        names = [f"k{i}" for i in range(len(key))]
        session.execute(text(f"SELECT pg_advisory_xact_lock({', '.join(':' + n for n in names)})"),
                        dict(zip(names, key)))


def make_base(service: str) -> type[DeclarativeBase]:
    """A declarative base with its own metadata for one service."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION, info={"service": service})
        type_annotation_map = {dt.datetime: UTCDateTime, dict: JSON, list: JSON}

    Base.__name__ = f"{service.capitalize()}Base"
    return Base


class Database:
    """An engine and a session factory for one service's database."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict = {"echo": echo, "future": True, "json_deserializer": jsonfast.loads}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=5, max_overflow=10)
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        else:
            event.listen(self.engine, "checkin", _mark_idle)
            event.listen(self.engine, "checkout", _ping_if_idle)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        # Sessions that only read: on SQLite they begin DEFERRED (a reader never waits
        # for the write lock, and readers never queue behind each other), and whatever
        # they would write is refused at flush.
        self.ReadSession = sessionmaker(self.engine.execution_options(nws_read_only=True),
                                        expire_on_commit=False)
        event.listen(self.ReadSession, "before_flush", _refuse_writes)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self.Session() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session inside one transaction that only reads (a page, a list, a detail):
        on SQLite it takes no write lock, so many run at once; a change made in it
        raises instead of being written."""
        with self.ReadSession() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


# A pooled connection idle for longer than this is pinged when it is taken from the pool
# (SQLAlchemy's pool_pre_ping, which pings on every checkout: one more round trip for
# every transaction, every request and every message). A database restart or a dropped
# connection leaves the connections idle for longer than this; one that fails in use all
# the same is a disconnect error, which invalidates the pool's connections (a task
# retries it; SQLAlchemy's own pre-ping has the same window between ping and use).
PING_AFTER_IDLE = 1.0


def _mark_idle(_dbapi_conn, record) -> None:
    record.info["nws_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    since = record.info.get("nws_idle_since")
    if since is not None and time.monotonic() - since < PING_AFTER_IDLE:
        return
    try:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_conn.rollback()       # the ping's own transaction, not the caller's
    except Exception as exc:        # the pool drops it and checks out another
        raise DisconnectionError(f"a pooled connection no longer answers: {exc}") from exc


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE below works.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(conn) -> None:
    # Writers queue up on the database lock at BEGIN instead of failing mid-transaction:
    # the embedded suite writes from web threads and the worker thread at once. Readers
    # (Database.reading) begin deferred: in WAL mode they read a snapshot and never wait.
    if conn.get_execution_options().get("nws_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class ReadOnlySessionError(RuntimeError):
    """A session of Database.reading was asked to write."""


def _refuse_writes(session: Session, _context, _instances) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySessionError("a reading session does not write; use Database.transaction")
