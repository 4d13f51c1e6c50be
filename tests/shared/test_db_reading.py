"""Database.reading: a transaction that only reads takes no write lock on SQLite and
refuses to write."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import Integer, String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database, ReadOnlySessionError, make_base

Base = make_base("readingtest")


class Thing(Base):
    __tablename__ = "readingtest_things"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


@pytest.fixture()
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'reading.db'}")
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        session.add(Thing(id=1, name="一"))
    yield database
    database.dispose()


def test_a_reader_does_not_wait_for_a_writer_holding_the_lock(db):
    with db.transaction() as writer:
        writer.execute(text("UPDATE readingtest_things SET name = '二' WHERE id = 1"))
        started = time.monotonic()
        with db.reading() as reader:              # a second BEGIN IMMEDIATE would wait 30 s
            name = reader.scalar(select(Thing.name).where(Thing.id == 1))
        assert time.monotonic() - started < 1.0
        assert name == "一"                        # the snapshot before the writer's commit
    with db.reading() as reader:
        assert reader.scalar(select(Thing.name)) == "二"


def test_a_reading_session_refuses_to_write_and_nothing_is_stored(db):
    with pytest.raises(ReadOnlySessionError):
        with db.reading() as session:
            session.get(Thing, 1).name = "変更"
            session.flush()
    with pytest.raises(ReadOnlySessionError):
        with db.reading() as session:
            session.add(Thing(id=2, name="追加"))
    with db.reading() as session:
        assert session.scalars(select(Thing.name)).all() == ["一"]


def test_writing_transactions_still_begin_immediate(db):
    statements = []

    from sqlalchemy import event

    @event.listens_for(db.engine, "before_cursor_execute")
    def _seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with db.transaction() as session:
        session.scalar(select(Thing.name))
    with db.reading() as session:
        session.scalar(select(Thing.name))
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]
