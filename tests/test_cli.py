"""The command line of DESIGN §7, run as an operator would: as processes."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import factories
from tests.conftest import wait_for

NWS = str(Path(sys.executable).with_name("nws"))
REPO = Path(__file__).resolve().parents[1]


def cli_env(tmp_path, **extra) -> dict:
    """The environment of an `nws` process: no NWS_* setting of the caller, data under
    tmp_path, and this checkout's code first on the path (the console script may belong
    to another checkout's install)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NWS_")}
    env["NWS_DATA_DIR"] = str(tmp_path / "var")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run(tmp_path, *args, check=True, input=None, env=None):
    out = subprocess.run([NWS, *args], env=cli_env(tmp_path, **(env or {})),
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, input=input)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def test_db_upgrade_then_refdata_load_is_idempotent(tmp_path):
    assert "migrated: identity, intake, review, matching, master" in run(tmp_path, "db", "upgrade").stdout
    first = run(tmp_path, "refdata", "load").stdout
    assert "'inserted': 3590" in first
    second = run(tmp_path, "refdata", "load").stdout
    assert "'inserted': 0" in second and "'unchanged': 3590" in second
    assert "migrated" in run(tmp_path, "db", "upgrade").stdout  # again: nothing to do


def test_users_add_creates_an_account_and_refuses_a_duplicate(tmp_path):
    run(tmp_path, "db", "upgrade")
    args = ("users", "add", "--login", "osaka-pref", "--password", "a-long-password",
            "--org", "270008", "--role", "primary_reviewer")
    assert "created account osaka-pref (primary_reviewer, 270008)" in run(tmp_path, *args).stdout
    again = run(tmp_path, *args, check=False)
    assert again.returncode != 0 and "既に使われています" in again.stderr
    bad = run(tmp_path, "users", "add", "--login", "x2y", "--password", "a-long-password",
              "--org", "131016", "--role", "king", check=False)
    assert bad.returncode != 0 and "king" in bad.stderr


def test_users_add_warns_when_the_password_is_on_the_command_line(tmp_path):
    run(tmp_path, "db", "upgrade")
    out = run(tmp_path, "users", "add", "--login", "osaka-pref", "--password",
              "Kawa-semi 2026 natsu", "--org", "270008", "--role", "primary_reviewer")
    assert "created account osaka-pref" in out.stdout
    assert "warning" in out.stderr and "other local users" in out.stderr


def test_users_add_reads_the_password_from_standard_input(tmp_path):
    run(tmp_path, "db", "upgrade")
    out = run(tmp_path, "users", "add", "--login", "osaka-pref", "--password-stdin",
              "--org", "270008", "--role", "primary_reviewer", input="Kawa-semi 2026 natsu\n")
    assert "created account osaka-pref" in out.stdout and "warning" not in out.stderr
    login_with(tmp_path, "osaka-pref", "Kawa-semi 2026 natsu")
    weak = run(tmp_path, "users", "add", "--login", "kyoto-pref", "--password-stdin",
               "--org", "260002", "--role", "primary_reviewer", input="password1234\n",
               check=False)
    assert weak.returncode != 0 and "よく使われている" in weak.stderr
    both = run(tmp_path, "users", "add", "--login", "kyoto-pref", "--password-stdin",
               "--password", "Kawa-semi 2026 natsu", "--org", "260002",
               "--role", "primary_reviewer", check=False)
    assert both.returncode != 0 and "not both" in both.stderr


def test_users_add_asks_for_the_password_twice_without_echo(tmp_path, monkeypatch):
    """Without --password or --password-stdin: a hidden prompt (click's, which is
    getpass on a terminal), asked twice."""
    from click.testing import CliRunner

    from nws import cli

    for key in [k for k in os.environ if k.startswith("NWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("NWS_DATA_DIR", str(tmp_path / "var"))
    run(tmp_path, "db", "upgrade")
    password = "Kawa-semi 2026 natsu"
    result = CliRunner().invoke(cli.main, ["users", "add", "--login", "osaka-pref",
                                           "--org", "270008", "--role", "primary_reviewer"],
                                input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    assert "created account osaka-pref" in result.output
    assert result.output.count("パスワード") == 2 and password not in result.output
    login_with(tmp_path, "osaka-pref", password)


def login_with(tmp_path, login: str, password: str) -> None:
    """The account logs in with that password (argon2 verify against the stored hash)."""
    import sqlite3

    from argon2 import PasswordHasher

    with sqlite3.connect(tmp_path / "var" / "identity.db") as db:
        stored = db.execute("select password_hash from identity_accounts where login = ?",
                            (login,)).fetchone()[0]
    assert PasswordHasher().verify(stored, password)


def test_nws_web_listens_on_the_loopback_unless_told_otherwise():
    from nws import cli

    host = next(p for p in cli.web.params if p.name == "host")
    assert host.default == "127.0.0.1"
    serve_host = next(p for p in cli.serve.params if p.name == "host")
    assert serve_host.default == "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.token = None

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                return res.status, json.loads(res.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def login(self, login: str) -> "Http":
        other = Http.__new__(Http)
        other.base = self.base
        other.token = self.call("POST", "/api/auth/token",
                                {"login": login, "password": factories.DEMO_PASSWORD})[1]["token"]
        return other


def start_serve(tmp_path, port):
    env = cli_env(tmp_path, NWS_SWEEP_INTERVAL="0.5")
    log = open(tmp_path / "serve.log", "ab")
    proc = subprocess.Popen([NWS, "serve", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)

    def up():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return True
        except OSError:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            return False

    wait_for(up, timeout=60, interval=0.2, what="nws serve listening")
    return proc


def test_serve_runs_the_suite_and_loses_nothing_when_killed(tmp_path):
    port = free_port()
    proc = start_serve(tmp_path, port)
    try:
        log = wait_for(lambda: (lambda t: t if "まず試すこと" in t else None)(
            (tmp_path / "serve.log").read_text()), what="the start-up block")
        block = log[log.index("申請処理機能（組込み構成）を起動しました"):]
        # the demo accounts with their roles and organisations in Japanese, by name
        assert "demo-applicant" in block and "申請者：東京都千代田区（131016）" in block
        assert "demo-pref" in block and "一次審査者：東京都（130001）" in block
        assert f"http://127.0.0.1:{port}/" in block and "--port" in block
        applicant = Http(port).login("demo-applicant")
        status, created = applicant.call("POST", "/api/intake/applications", {"kind": "connection"})
        assert status == 201
        app_id = created["id"]
        for code, data in factories.all_forms().items():
            assert applicant.call("PUT", f"/api/intake/applications/{app_id}/forms/{code}", data)[0] == 202
        wait_for(lambda: all(f["status"] == "valid" for f in applicant.call(
            "GET", f"/api/intake/applications/{app_id}")[1]["forms"].values()), timeout=90)
        assert applicant.call("POST", f"/api/intake/applications/{app_id}/submit")[0] == 202
    finally:
        os.killpg(proc.pid, signal.SIGKILL)   # no chance to clean up
        proc.wait(10)

    proc = start_serve(tmp_path, port)
    try:
        applicant = Http(port).login("demo-applicant")  # accounts and signing key survived
        app = wait_for(lambda: (lambda a: a if a["status"] == "primary_review" else None)(
            applicant.call("GET", f"/api/intake/applications/{app_id}")[1]), timeout=150,
            interval=0.3, what="flow resumed after restart")  # redelivery backs off; CI may be loaded
        assert app["round"] == 1
        assert [h["event"] for h in app["history"]].count("submitted") == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_refdata_load_interrupted_leaves_all_or_nothing_and_reruns(tmp_path):
    """Ctrl-C during the load: the registry holds either nothing or everything, never a
    part, and running the command again completes it."""
    import sqlite3

    run(tmp_path, "db", "upgrade")
    env = cli_env(tmp_path)
    proc = subprocess.Popen([NWS, "refdata", "load"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "loading" in proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    with sqlite3.connect(tmp_path / "var" / "intake.db") as db:
        count = db.execute("select count(*) from intake_organisations").fetchone()[0]
    if proc.returncode != 0:           # interrupted before the commit
        assert count == 0, count
    else:                              # finished before the signal arrived
        assert count >= 3590
    again = run(tmp_path, "refdata", "load")
    assert "organisations:" in again.stdout
    with sqlite3.connect(tmp_path / "var" / "intake.db") as db:
        assert db.execute("select count(*) from intake_organisations").fetchone()[0] >= 3590


def test_nws_web_serves_one_service_over_http(tmp_path):
    run(tmp_path, "db", "upgrade")
    port = free_port()
    env = cli_env(tmp_path, NWS_SECRET_KEY="s" * 40, NWS_IDENTITY_URL="http://127.0.0.1:9")
    log = open(tmp_path / "web.log", "wb")
    proc = subprocess.Popen([NWS, "web", "--service", "review", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def ready():
            assert proc.poll() is None, (tmp_path / "web.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                return None

        body = wait_for(ready, timeout=60, interval=0.3, what="nws web ready")
        assert body["status"] == "ready" and "review.migrations" in body["checks"]
        status, _ = Http(port).call("GET", "/api/review/queue")
        assert status == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(20) == 0


def test_users_commands_end_sessions_on_every_service(tmp_path):
    """`nws users disable|set-role|set-password|end-sessions` from another process: the
    running suite refuses the account's tokens on every service within its refresh
    (here 1 s; at most a minute); `enable` and `unlock` let it log in again."""
    from tests.conftest import Suite

    probes = ("/api/auth/me", "/api/intake/applications", "/api/review/queue",
              "/api/matching/confirmations", "/api/master/versions")
    suite = Suite(tmp_path / "var", start_worker=False, env={"NWS_AUTH_REFRESH": "1"})

    def refused(token, code):
        for url in probes:
            res = suite.client.get(url, headers={"Authorization": f"Bearer {token}"})
            if res.status_code != 401 or res.get_json()["error"]["code"] != code:
                return False
        return True

    def login(name, password=factories.DEMO_PASSWORD):
        return suite.client.post("/api/auth/token", json={"login": name, "password": password})

    try:
        applicant, pref, mic, operator = (login(n).get_json()["token"] for n in (
            "demo-applicant", "demo-pref", "demo-mic", "demo-operator"))
        assert "disabled demo-applicant" in run(tmp_path, "users", "disable", "demo-applicant").stdout
        wait_for(lambda: refused(applicant, "account_disabled"), timeout=60, what="disabled")
        assert login("demo-applicant").status_code == 401
        assert "enabled" in run(tmp_path, "users", "enable", "demo-applicant").stdout
        assert login("demo-applicant").status_code == 200

        out = run(tmp_path, "users", "set-role", "demo-pref", "secondary_reviewer").stdout
        assert "demo-pref is now secondary_reviewer" in out
        wait_for(lambda: refused(pref, "token_revoked"), timeout=60, what="role changed")

        out = run(tmp_path, "users", "set-password", "demo-mic", "--password-stdin",
                  input="Hoshi-zora 2027 fuyu\n").stdout
        assert "new password set for demo-mic" in out
        wait_for(lambda: refused(mic, "token_revoked"), timeout=60, what="password changed")
        assert login("demo-mic").status_code == 401
        assert login("demo-mic", "Hoshi-zora 2027 fuyu").status_code == 200
        weak = run(tmp_path, "users", "set-password", "demo-mic", "--password-stdin",
                   input="demo-mic-password\n", check=False)
        assert weak.returncode != 0 and "ログイン名" in weak.stderr

        assert "sessions of demo-operator end" in run(tmp_path, "users", "end-sessions",
                                                      "demo-operator").stdout
        wait_for(lambda: refused(operator, "token_revoked"), timeout=60, what="sessions ended")

        for _ in range(4):
            login("demo-jlis", "wrong-password-1")
        assert login("demo-jlis").status_code == 429
        assert "unlocked demo-jlis" in run(tmp_path, "users", "unlock", "demo-jlis").stdout
        assert login("demo-jlis").status_code == 200

        unknown = run(tmp_path, "users", "disable", "nobody", check=False)
        assert unknown.returncode != 0 and "nobody のアカウントはありません" in unknown.stderr
    finally:
        suite.close()


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_read_only_commands_write_nothing(tmp_path):
    """`nws plugins`, `nws status` and `nws dead-letters list` in a folder where nothing
    has run: they answer, and the folder stays empty (no ./var, no secret key, no
    database, no broker folders)."""
    out = run(tmp_path, "plugins")
    assert "form_02_01" in out.stdout and "forms:" in out.stdout
    for args in (("status",), ("dead-letters", "list")):
        out = run(tmp_path, *args)
        assert "no embedded suite data under" in out.stdout and "nws serve" in out.stdout
    assert _files_under(tmp_path) == []
    # Once the suite has data, status reads it and still writes nothing new.
    run(tmp_path, "db", "upgrade")
    before = _files_under(tmp_path)
    out = run(tmp_path, "status", "--timeout", "0.2")
    assert "dead letters:" in out.stdout
    assert _files_under(tmp_path) == before


def test_configuration_errors_are_one_line_naming_the_setting(tmp_path):
    secret = {"NWS_SECRET_KEY": "k" * 40}
    cases = [
        ({"NWS_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:5432/x"}, "NWS_SECRET_KEY"),
        ({"NWS_TASK_TIME_LIMIT": "abc"}, "NWS_TASK_TIME_LIMIT must be a positive whole number"),
        ({"NWS_AUTH_REFRESH": "soon"}, "NWS_AUTH_REFRESH must be a number, not 'soon'"),
        ({"NWS_DEAD_LETTER_AFTER": "-1"}, "NWS_DEAD_LETTER_AFTER"),
        ({"NWS_COOKIE_SECURE": "perhaps"}, "NWS_COOKIE_SECURE must be true or false"),
        ({"NWS_OUTBOUND_ALLOW": "not-a-net"}, "NWS_OUTBOUND_ALLOW"),
        ({"NWS_DATABASE_URL": "nonsense", **secret}, "NWS_DATABASE_URL"),
        ({"NWS_DATABASE_URL": "nosuchdb://x/y", **secret}, "NWS_DATABASE_URL"),
        ({"NWS_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x", **secret},
         "cannot reach the database"),
    ]
    for env, expected in cases:
        for args in (("db", "upgrade"), ("status",)):
            out = run(tmp_path, *args, check=False, env=env)
            assert out.returncode == 2, (env, args, out.stdout, out.stderr)
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("nws: "), (env, out.stderr)
            assert expected in lines[0] and "Traceback" not in out.stderr, (env, lines)


def test_worker_takes_the_celery_operator_controls(tmp_path):
    """--autoscale, --max-tasks-per-child and --rate-limit reach the running worker (asked
    with Celery's own inspect, as an operator would); a wrong task name or rate is one
    clear usage error."""
    import redis

    from celery import Celery

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        import pytest

        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"cli-{os.getpid()}-"
    settings = {"NWS_BROKER_URL": "redis://127.0.0.1:6379/0", "NWS_SECRET_KEY": "w" * 40,
                "NWS_BROKER_KEY_PREFIX": prefix,
                "NWS_DATABASE_URL": f"sqlite:///{tmp_path / 'suite.db'}"}
    bad = run(tmp_path, "worker", "--service", "master", "--rate-limit", "nws.master.nope=1/m",
              check=False, env=settings)
    assert bad.returncode == 2 and "no task named nws.master.nope" in bad.stderr
    bad = run(tmp_path, "worker", "--service", "master", "--rate-limit", "x=fast", check=False,
              env=settings)
    assert bad.returncode == 2 and "TASK=RATE" in bad.stderr
    env = cli_env(tmp_path, **settings)
    run(tmp_path, "db", "upgrade", env=settings)
    proc = subprocess.Popen([NWS, "worker", "--service", "master", "--hostname",
                             "ctl@test", "--autoscale", "2,1", "--max-tasks-per-child", "7",
                             "--rate-limit", "nws.master.outbox.ack=5/m"],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    app = Celery(broker="redis://127.0.0.1:6379/0")
    app.conf.broker_transport_options = {"global_keyprefix": prefix}
    try:
        stats = wait_for(lambda: app.control.inspect(destination=["ctl@test"],
                                                     timeout=1).stats(), timeout=60,
                         what="the worker answers inspect")["ctl@test"]
        assert stats["autoscaler"]["max"] == 2 and stats["autoscaler"]["min"] == 1
        assert stats["pool"]["max-tasks-per-child"] == 7
        registered = app.control.inspect(destination=["ctl@test"], timeout=2).registered(
            "rate_limit")["ctl@test"]
        assert "nws.master.outbox.ack [rate_limit=5/m]" in registered
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_nws_web_finishes_requests_in_flight_on_sigterm(tmp_path):
    """A rolling restart: SIGTERM while a login's body is still arriving. The server
    stops accepting new connections at once, yet the request in flight gets its whole
    answer, and the process then exits 0."""
    import socket
    import time

    run(tmp_path, "db", "upgrade")
    port = free_port()
    env = cli_env(tmp_path, NWS_SECRET_KEY="s" * 40)
    log = open(tmp_path / "web.log", "wb")
    proc = subprocess.Popen([NWS, "web", "--service", "identity", "--port", str(port),
                             "--grace", "20"], env=env, cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: Http(port).call("GET", "/healthz")[0] == 200
                 if _listening(port) else None, timeout=60, what="nws web up")
        body = json.dumps({"login": "nobody-here", "password": "wrong-password-2026"}).encode()
        conn = socket.create_connection(("127.0.0.1", port), timeout=20)
        conn.sendall(b"POST /api/auth/token HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(0.5)
        assert not _listening(port)                    # no new connections
        conn.sendall(body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        conn.close()
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        assert b"invalid_credentials" in answer
        assert proc.wait(20) == 0, (tmp_path / "web.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


# --- nws audit verify ------------------------------------------------------------------------

def _audited_accounts(tmp_path) -> None:
    """Three accounts and a disabled one, by `nws users`: four entries in identity's log."""
    run(tmp_path, "db", "upgrade")
    for login in ("audit-a", "audit-b", "audit-c"):
        run(tmp_path, "users", "add", "--login", login, "--password-stdin", "--org", "131016",
            "--role", "applicant", input="Kawa-semi 2026 natsu\n")
    run(tmp_path, "users", "disable", "audit-b")


def _tamper(tmp_path, *statements: str) -> None:
    """What someone with the database file can do: drop the append-only triggers, edit."""
    import sqlite3

    conn = sqlite3.connect(tmp_path / "var" / "identity.db")
    try:
        for verb in ("update", "delete"):
            conn.execute(f"DROP TRIGGER identity_audit_log_no_{verb}")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_audit_verify_passes_an_untouched_log_and_names_the_command_line_user(tmp_path):
    import getpass
    import sqlite3

    _audited_accounts(tmp_path)
    out = run(tmp_path, "audit", "verify")
    assert "identity: OK, 4 entries, head identity:4:" in out.stdout
    assert "intake: OK, 0 entries" in out.stdout and "master: OK" in out.stdout
    assert run(tmp_path, "audit", "verify", "--service", "identity").stdout.count("OK") == 1
    conn = sqlite3.connect(tmp_path / "var" / "identity.db")
    rows = conn.execute("SELECT action, target, actor_login, actor_role, address "
                        "FROM identity_audit_log ORDER BY seq").fetchall()
    conn.close()
    assert [(a, t) for a, t, *_ in rows] == [
        ("account.created", "account:audit-a"), ("account.created", "account:audit-b"),
        ("account.created", "account:audit-c"), ("account.disabled", "account:audit-b")]
    assert {(login, role) for _, _, login, role, _ in rows} == {(f"cli:{getpass.getuser()}",
                                                                 "cli")}
    assert all(address.startswith("cli@") for *_, address in rows)
    # The log refuses edits as it is.
    conn = sqlite3.connect(tmp_path / "var" / "identity.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE identity_audit_log SET actor_login = 'x' WHERE seq = 2")
    conn.close()


def test_audit_verify_fails_on_an_edited_entry(tmp_path):
    _audited_accounts(tmp_path)
    _tamper(tmp_path, "UPDATE identity_audit_log SET actor_login = 'someone-else' WHERE seq = 2")
    out = run(tmp_path, "audit", "verify", check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "identity: BROKEN at entry 2: its content does not match its hash" in out.stdout
    assert "review: OK" in out.stdout and "BROKEN" in out.stderr


def test_audit_verify_fails_on_an_entry_deleted_in_the_middle(tmp_path):
    _audited_accounts(tmp_path)
    _tamper(tmp_path, "DELETE FROM identity_audit_log WHERE seq = 2")
    out = run(tmp_path, "audit", "verify", "--service", "identity", check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "identity: BROKEN at entry 2: entry 2 is missing (deleted)" in out.stdout
    # After the break was investigated, the walk starts at a head noted after it.
    import sqlite3

    conn = sqlite3.connect(tmp_path / "var" / "identity.db")
    (digest,) = conn.execute("SELECT hash FROM identity_audit_log WHERE seq = 3").fetchone()
    conn.close()
    after = run(tmp_path, "audit", "verify", "--service", "identity", "--since",
                f"identity:3:{digest}")
    assert "identity: OK, 2 entries, head identity:4:" in after.stdout
    bad = run(tmp_path, "audit", "verify", "--since", "identity:3", check=False)
    assert bad.returncode == 2 and "SERVICE:SEQ:HASH" in bad.stderr
