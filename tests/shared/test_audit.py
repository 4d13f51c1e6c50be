"""The chained audit log on its own (shared.audit): entries are appended at commit with a
hash over the previous hash and the entry, rolled-back work leaves none, and
:func:`shared.audit.verify` finds an altered, a deleted and a reordered entry."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import String, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column

from shared import audit
from shared.auth import Principal
from shared.db import Database, make_base
from shared.migration_ops import append_only_triggers
from shared.jst import jst

Base = make_base("chain")


class AuditLog(audit.AuditLogMixin, Base):
    __tablename__ = "chain_audit_log"


class Thing(Base):
    __tablename__ = "chain_things"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)


OPERATOR = Principal(7, "ops-1", "MIC", "operator", "運用 五郎", "運営")


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'chain.db'}")
    Base.metadata.create_all(database.engine)
    audit.bind(database.Session, "chain", AuditLog)
    yield database
    database.dispose()


def add(db, *actions, actor=OPERATOR, address="192.0.2.10", **kw):
    with db.transaction() as session:
        for action in actions:
            audit.record(session, action, f"thing:{action}", {"n": 1}, actor=actor,
                         address=address, **kw)


def rows(db) -> list[AuditLog]:
    with db.transaction() as session:
        return session.scalars(select(AuditLog).order_by(AuditLog.seq)).all()


def verdict(db) -> audit.Verdict:
    with db.transaction() as session:
        return audit.verify(session, AuditLog)


def test_entries_are_chained_in_commit_order_with_who_and_from_where(db):
    add(db, "a.one", "a.two")
    add(db, "a.three", actor={"login": "ext", "org_id": "131016"}, address="203.0.113.5",
        subject_org="131016")
    got = rows(db)
    assert [(r.seq, r.action) for r in got] == [(1, "a.one"), (2, "a.two"), (3, "a.three")]
    assert got[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in got[1:]] == [r.hash for r in got[:-1]]
    assert (got[0].actor_login, got[0].actor_role, got[0].actor_org, got[0].address) == (
        "ops-1", "operator", "MIC", "192.0.2.10")
    assert (got[2].actor_login, got[2].actor_org, got[2].subject_org, got[2].address) == (
        "ext", "131016", "131016", "203.0.113.5")
    assert verdict(db).ok and verdict(db).head_seq == 3


def test_the_hash_is_the_documented_sha256_of_the_previous_hash_and_the_canonical_entry(db):
    add(db, "a.one")
    add(db, "a.two")
    first, second = rows(db)
    body = {"v": 1, "service": "chain", "seq": 2,
            "at": second.at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "action": "a.two", "target": "thing:a.two",
            "actor": {"login": "ops-1", "role": "operator", "org": "MIC"},
            "subject_org": None, "address": "192.0.2.10", "detail": {"n": 1}}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert second.hash == hashlib.sha256(
        (first.hash + canonical).encode("utf-8")).hexdigest()


def test_a_rolled_back_transaction_leaves_no_entry(db):
    add(db, "a.one")
    with pytest.raises(RuntimeError):
        with db.transaction() as session:
            session.add(Thing(name="x"))
            audit.record(session, "a.lost", "thing:x", actor=OPERATOR)
            raise RuntimeError("the action failed")
    add(db, "a.two")
    assert [(r.seq, r.action) for r in rows(db)] == [(1, "a.one"), (2, "a.two")]
    assert verdict(db).ok


def test_an_entry_queued_in_a_savepoint_that_rolls_back_is_dropped_the_others_kept(db):
    with db.transaction() as session:
        audit.record(session, "a.kept", "thing:1", actor=OPERATOR)
        with pytest.raises(ValueError):
            with session.begin_nested():
                audit.record(session, "a.dropped", "thing:2", actor=OPERATOR)
                raise ValueError("refused")
        with session.begin_nested():
            audit.record(session, "a.inner_kept", "thing:3", actor=OPERATOR)
    assert [r.action for r in rows(db)] == ["a.kept", "a.inner_kept"]
    assert verdict(db).ok


def test_the_actor_defaults_to_the_command_lines_then_the_system(db):
    with audit.acting_as(audit.Actor("cli:root", "cli", ""), "cli@host"):
        add(db, "a.cli", actor=None, address=None)
    add(db, "a.task", actor=None, address=None)
    cli, task = rows(db)
    assert (cli.actor_login, cli.actor_role, cli.address) == ("cli:root", "cli", "cli@host")
    assert (task.actor_login, task.actor_role, task.address) == ("system", "system", None)


def test_detail_is_stored_as_hashed_long_values_are_cut_before_hashing(db):
    with db.transaction() as session:
        audit.record(session, "a.dates", "t" * 300, {"on": dt.date(2026, 4, 1), "nul": "a\x00b"},
                     actor=OPERATOR, address="x" * 100)
    (row,) = rows(db)
    assert row.detail == {"on": "2026-04-01", "nul": "ab"}
    assert len(row.target) == 200 and len(row.address) == 64
    assert verdict(db).ok


def test_every_new_session_factory_gets_the_hooks(db):
    """A process that builds runtimes again and again (the tests, a reloading server)
    binds new session factories; one that takes the id() of a collected one must still
    get the hooks (SQLAlchemy's event.contains() answered yes for it)."""
    import gc

    from sqlalchemy.orm import sessionmaker

    for _ in range(40):
        factory = sessionmaker(db.engine)
        audit.bind(factory, "chain", AuditLog)
        with factory() as session, session.begin():
            audit.record(session, "a.each", "thing:1")
        del factory
        gc.collect(1)
    assert len(rows(db)) == 40 and verdict(db).ok


def test_a_session_without_an_audit_log_refuses_to_record(tmp_path):
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    with pytest.raises(RuntimeError, match="no audit log"):
        with other.transaction() as session:
            audit.record(session, "a.one", "thing:1")
    other.dispose()


# --- tampering -------------------------------------------------------------------------------

def tamper(db, sql: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.fixture
def five(db):
    for n in range(5):
        add(db, f"a.n{n + 1}")
    assert verdict(db).ok
    return db


def test_verify_finds_an_altered_entry(five):
    tamper(five, "UPDATE chain_audit_log SET actor_login = 'someone-else' WHERE seq = 3")
    v = verdict(five)
    assert not v.ok and v.broken_seq == 3 and "altered" in v.reason


def test_verify_finds_an_altered_detail_even_with_its_hash_recomputed(five):
    """Rewriting an entry and its own hash breaks the link from the next entry."""
    with five.transaction() as session:
        row = session.get(AuditLog, 2)
        fields = {c: getattr(row, c) for c in ("seq", "at", "action", "target", "actor_login",
                                               "actor_role", "actor_org", "subject_org",
                                               "address", "detail")}
        fields["detail"] = {"n": 2}
        forged = audit.entry_hash(row.prev_hash, "chain", fields)
    tamper(five, "UPDATE chain_audit_log SET detail = :d, hash = :h WHERE seq = 2",
           d='{"n": 2}', h=forged)
    v = verdict(five)
    assert not v.ok and v.broken_seq == 3 and "prev_hash" in v.reason


def test_verify_finds_a_deleted_entry_in_the_middle(five):
    tamper(five, "DELETE FROM chain_audit_log WHERE seq = 3")
    v = verdict(five)
    assert not v.ok and v.broken_seq == 3 and "missing" in v.reason


def test_verify_finds_reordered_entries(five):
    tamper(five, "UPDATE chain_audit_log SET seq = 100 WHERE seq = 2")
    tamper(five, "UPDATE chain_audit_log SET seq = 2 WHERE seq = 4")
    tamper(five, "UPDATE chain_audit_log SET seq = 4 WHERE seq = 100")
    v = verdict(five)
    assert not v.ok and v.broken_seq == 2


def test_a_cut_off_tail_is_found_against_a_head_noted_before(five):
    noted = (5, rows(five)[-1].hash)
    assert verdict(five).ok
    with five.transaction() as session:
        assert audit.verify(session, AuditLog, expect=noted).ok
    tamper(five, "DELETE FROM chain_audit_log WHERE seq >= 4")
    assert verdict(five).ok    # what is left is a chain
    with five.transaction() as session:
        v = audit.verify(session, AuditLog, expect=noted)
    assert not v.ok and "ends at entry 3" in v.reason
    add(five, "a.new4", "a.new5")   # a new tail with the noted numbers
    with five.transaction() as session:
        v = audit.verify(session, AuditLog, expect=noted)
    assert not v.ok and v.broken_seq == 5 and "rewritten" in v.reason


def test_a_walk_can_start_at_a_noted_head_after_an_investigated_break(five):
    noted = (4, rows(five)[3].hash)
    tamper(five, "UPDATE chain_audit_log SET address = '10.0.0.1' WHERE seq = 2")
    assert verdict(five).broken_seq == 2
    add(five, "a.n6")
    with five.transaction() as session:
        v = audit.verify(session, AuditLog, since=noted)
        assert v.ok and v.entries == 3 and v.head_seq == 6
        assert not audit.verify(session, AuditLog, since=(4, "0" * 64)).ok
    tamper(five, "UPDATE chain_audit_log SET address = '10.0.0.1' WHERE seq = 5")
    with five.transaction() as session:
        v = audit.verify(session, AuditLog, since=noted)
    assert not v.ok and v.broken_seq == 5


def test_appending_continues_the_chain_from_the_head(five):
    add(five, "a.n6")
    assert verdict(five).ok and verdict(five).head_seq == 6


def test_the_sqlite_triggers_refuse_update_and_delete(db):
    with db.engine.begin() as conn:
        for statement in append_only_triggers("sqlite", "chain_audit_log"):
            conn.execute(text(statement))
    add(db, "a.one")
    for sql in ("UPDATE chain_audit_log SET action = 'x'", "DELETE FROM chain_audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            tamper(db, sql)
    assert verdict(db).ok


# --- reading ---------------------------------------------------------------------------------

def test_filters_and_pages_newest_first(db):
    add(db, "decision.approved", "decision.rejected", "webhook.created")
    add(db, "decision.approved", actor={"login": "pref", "org_id": "130001"},
        subject_org="131016")
    with db.transaction() as session:
        page, after = audit.query(session, AuditLog, audit.parse_filters({"limit": "2"}))
        assert [e["seq"] for e in page] == [4, 3] and after == 3
        page, after = audit.query(session, AuditLog,
                                  audit.parse_filters({"limit": "2", "before": "3"}))
        assert [e["seq"] for e in page] == [2, 1] and after is None
        by = lambda **f: [e["seq"] for e in audit.query(  # noqa: E731
            session, AuditLog, audit.parse_filters(f))[0]]
        assert by(action="decision.*") == [4, 2, 1]
        assert by(action="decision.approved") == [4, 1]
        assert by(actor="pref") == [4]
        assert by(org="131016") == [4] and by(org="130001") == [4] and by(org="MIC") == [3, 2, 1]
        assert by(target="thing:webhook.created") == [3]
        today = jst(dt.datetime.now(dt.timezone.utc))[:10]
        assert by(**{"from": today, "to": today}) == [4, 3, 2, 1]
        assert by(**{"to": "2000-01-01"}) == []


@pytest.mark.parametrize("args", [{"from": "2026/04/01"}, {"limit": "0"}, {"limit": "500"},
                                  {"before": "x"}, {"actor": "a" * 201}])
def test_bad_filters_are_named(args):
    with pytest.raises(audit.FilterError) as err:
        audit.parse_filters(args)
    assert err.value.problems[0][0] == next(iter(args))


def test_jst_shows_japan_time():
    assert jst(dt.datetime(2026, 3, 31, 15, 30, tzinfo=dt.timezone.utc)) == "2026-04-01 00:30:00"
