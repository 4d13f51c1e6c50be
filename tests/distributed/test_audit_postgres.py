"""The audit log on PostgreSQL, where many web processes and workers append at once:
every writer takes the chain lock at the end of its transaction, so the chain stays one
line whatever interleaves; the database refuses UPDATE, DELETE and TRUNCATE, and what
its owner edits anyway ``nws audit verify`` finds."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from nws.app import create_app
from nws.runtime import Runtime
from services.identity.models import AuditLog
from shared import audit
from shared.config import Settings

pytestmark = pytest.mark.distributed

REPO = Path(__file__).resolve().parents[2]
NWS = str(Path(sys.executable).with_name("nws"))


def settings(url: str, tmp_path) -> Settings:
    # A login slot for each simultaneous attempt: the chain, not the slots, is under test.
    return Settings.from_env({"NWS_DATABASE_URL": url, "NWS_SECRET_KEY": "a" * 48,
                              "NWS_DATA_DIR": str(tmp_path),
                              "NWS_BROKER_URL": "filesystem://localhost/",
                              "NWS_LOGIN_SLOTS": "16", "NWS_LOGIN_SLOT_WAIT": "10"})


@pytest.fixture
def identity(pg_database, tmp_path):
    """Two identity runtimes on one database: two processes' engines and pools."""
    first = Runtime(settings(pg_database, tmp_path), ["identity"])
    first.migrate()
    second = Runtime(settings(pg_database, tmp_path), ["identity"])
    yield pg_database, first, second
    first.close()
    second.close()


def verdict(rt: Runtime) -> audit.Verdict:
    ctx = rt.services["identity"]
    with ctx.db.transaction() as session:
        return audit.verify(session, ctx.Audit)


def count(rt: Runtime) -> int:
    with rt.services["identity"].db.transaction() as session:
        return session.scalar(select(func.count()).select_from(AuditLog))


def test_threads_of_two_processes_appending_at_once_leave_one_linear_chain(identity):
    _url, first, second = identity
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def writer(n: int) -> None:
        rt = (first, second)[n % 2]
        rnd = random.Random(n)
        try:
            start.wait()
            for i in range(15):
                with rt.services["identity"].transaction() as session:
                    for k in range(1 + i % 3):
                        audit.record(session, "test.append", f"writer:{n}", {"i": i, "k": k},
                                     actor={"login": f"w{n}", "org_id": "MIC"},
                                     address=f"192.0.2.{n + 1}")
                        time.sleep(rnd.random() * 0.004)   # interleave before the commit
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    expected = 12 * sum(1 + i % 3 for i in range(15))
    v = verdict(first)
    assert v.ok, v.describe()
    assert v.entries == expected == count(first) and v.head_seq == expected
    # each writer's entries of one transaction are consecutive, in the order recorded
    with first.services["identity"].db.transaction() as session:
        rows = session.execute(select(AuditLog.target, AuditLog.detail)
                               .order_by(AuditLog.seq)).all()
    for (t1, d1), (t2, d2) in zip(rows, rows[1:]):
        if d2["k"] > 0:
            assert (t2, d2["i"], d2["k"]) == (t1, d1["i"], d1["k"] + 1)


def test_concurrent_failed_logins_on_two_web_processes_chain_linearly(identity):
    _url, first, second = identity
    apps = [create_app(first, {"TESTING": True}), create_app(second, {"TESTING": True})]
    start, statuses = threading.Barrier(10), []

    def guess(i: int) -> None:
        client = apps[i % 2].test_client()
        start.wait()
        res = client.post("/api/auth/token", json={"login": f"nobody-{i}",
                                                   "password": "wrong-pass-2026"},
                          environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"})
        statuses.append(res.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [401] * 10
    v = verdict(first)
    assert v.ok and v.entries == 10, v.describe()
    with first.services["identity"].db.transaction() as session:
        got = session.execute(select(AuditLog.actor_login, AuditLog.address)).all()
    assert sorted(got) == sorted((f"nobody-{i}", f"198.51.100.{i + 1}") for i in range(10))


WRITER = textwrap.dedent("""
    import random, sys, time
    from nws.runtime import Runtime
    from shared import audit
    from shared.config import Settings

    url, data_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rt = Runtime(Settings.from_env({"NWS_DATABASE_URL": url, "NWS_SECRET_KEY": "a" * 48,
                                    "NWS_DATA_DIR": data_dir,
                                    "NWS_BROKER_URL": "filesystem://localhost/"}),
                 ["identity"])
    rnd = random.Random(n)
    for i in range(40):
        with rt.services["identity"].transaction() as session:
            audit.record(session, "test.process", f"process:{n}", {"i": i},
                         actor={"login": f"p{n}"})
            time.sleep(rnd.random() * 0.01)
    rt.close()
""")


def test_processes_appending_at_once_leave_one_linear_chain(identity, tmp_path):
    url, first, _second = identity
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(tmp_path), str(n)],
                              env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for n in range(4)]
    outputs = [p.communicate(timeout=180)[0].decode(errors="replace") for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    v = verdict(first)
    assert v.ok and v.entries == 160, v.describe()
    with first.services["identity"].db.transaction() as session:
        per = dict(session.execute(select(AuditLog.target, func.count())
                                   .group_by(AuditLog.target)).all())
        firsts = session.execute(select(AuditLog.target, AuditLog.detail)
                                 .order_by(AuditLog.seq)).all()
    assert per == {f"process:{n}": 40 for n in range(4)}
    for n in range(4):   # each process's entries in its own order
        assert [d["i"] for t, d in firsts if t == f"process:{n}"] == list(range(40))


def test_postgres_refuses_edits_and_verify_finds_what_the_owner_edits_anyway(identity,
                                                                           tmp_path):
    url, first, _second = identity
    for i in range(4):
        with first.services["identity"].transaction() as session:
            audit.record(session, "test.entry", f"thing:{i}", {"i": i})
    engine = first.databases["identity"].engine
    for sql in ("UPDATE identity_audit_log SET action = 'x' WHERE seq = 2",
                "DELETE FROM identity_audit_log WHERE seq = 2",
                "TRUNCATE identity_audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(sql))
    assert verdict(first).ok

    env = {k: v for k, v in os.environ.items() if not k.startswith("NWS_")}
    env.update(NWS_DATABASE_URL=url, NWS_SECRET_KEY="a" * 48, NWS_DATA_DIR=str(tmp_path),
               NWS_BROKER_URL="filesystem://localhost/",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])))

    def nws_verify(*args):
        return subprocess.run([NWS, "audit", "verify", "--service", "identity", *args],
                              env=env, capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)

    ok = nws_verify()
    assert ok.returncode == 0 and "identity: OK, 4 entries" in ok.stdout, ok.stdout + ok.stderr
    head = ok.stdout.split("head ")[1].split()[0]      # identity:4:<hash>, noted elsewhere
    with engine.begin() as conn:   # the table's owner can switch the guard off
        conn.execute(text("ALTER TABLE identity_audit_log DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE identity_audit_log SET address = '10.9.9.9' WHERE seq = 3"))
    broken = nws_verify()
    assert broken.returncode == 1
    assert "identity: BROKEN at entry 3: its content does not match its hash" in broken.stdout
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM identity_audit_log WHERE seq >= 2"))
    with first.services["identity"].transaction() as session:
        audit.record(session, "test.entry", "thing:after")   # appends after what is left
    assert nws_verify().returncode == 0           # what is left is a chain …
    cut = nws_verify("--expect", head)            # … but not the one noted
    assert cut.returncode == 1
    assert "identity: BROKEN at entry 3: the log ends at entry 2" in cut.stdout
