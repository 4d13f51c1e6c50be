"""The distributed suite on this machine: real Redis, real PostgreSQL, one Celery worker
process per service queue (``nws worker --service S``), web APIs in the test process
(and ``nws web`` processes where a test needs real ones).

Under CI=true a missing Redis or PostgreSQL fails these tests instead of skipping them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from nws.app import create_app
from nws.runtime import Runtime
from shared.config import Settings
from tests import factories
from tests.conftest import CI, wait_for

REPO = Path(__file__).resolve().parents[2]
NWS = str(Path(sys.executable).with_name("nws"))
PG_ADMIN = os.environ.get("NWS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("NWS_TEST_REDIS", "redis://127.0.0.1:6379/9")

pytestmark = pytest.mark.distributed


def _unavailable(what: str, exc: Exception):
    message = f"{what} is not reachable: {exc}"
    if CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable("Redis (127.0.0.1:6379)", exc)
    return client


@pytest.fixture
def pg_database():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"nws_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except Exception as exc:  # noqa: BLE001
        _unavailable("PostgreSQL (127.0.0.1:5432)", exc)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


class Distributed:
    """Worker processes per service plus an in-process web app over the same stores."""

    def __init__(self, db_url: str, redis_client, tmp: Path, env: dict | None = None):
        self.tmp = tmp
        self.redis = redis_client
        # Keys of this suite only, so parallel test runs on one Redis do not meet.
        self.prefix = f"nws-test-{uuid.uuid4().hex[:8]}:"
        self.env = {
            **os.environ,
            "NWS_DATABASE_URL": db_url,
            "NWS_BROKER_URL": REDIS_URL,
            "NWS_BROKER_KEY_PREFIX": self.prefix,
            "NWS_SECRET_KEY": "distributed-test-secret-0123456789abcdef",
            "NWS_DATA_DIR": str(tmp / "data"),
            "NWS_SWEEP_INTERVAL": "0.5",
            "NWS_OUTBOX_REDELIVER_AFTER": "3",
            "NWS_LOG_LEVEL": "INFO",
            "NWS_LOG_FORMAT": "text",
            "PYTHONPATH": str(REPO),
            **(env or {}),
        }
        self.runtime = Runtime(Settings.from_env(self.env))
        self.runtime.migrate()
        self.runtime.seed()
        # Demo accounts come only with embedded settings; these tests log in with them.
        from services.identity.seed import create_demo_accounts

        create_demo_accounts(self.runtime.services["identity"])
        self.app = create_app(self.runtime, {"TESTING": True})
        self.client = self.app.test_client()
        self.workers: dict[str, subprocess.Popen] = {}
        self.webs: list[subprocess.Popen] = []
        self._tokens: dict[str, str] = {}

    def start_worker(self, service: str, extra_env: dict | None = None,
                     concurrency: int = 1) -> subprocess.Popen:
        log = open(self.tmp / f"worker-{service}-{len(self.workers)}.log", "ab")
        proc = subprocess.Popen(
            [NWS, "worker", "--service", service, "--concurrency", str(concurrency)],
            env={**self.env, **(extra_env or {})}, stdout=log, stderr=subprocess.STDOUT,
            cwd=REPO, start_new_session=True)
        self.workers[service] = proc
        wait_for(lambda: b"ready" in (self.tmp / log.name).read_bytes() or proc.poll() is not None,
                 timeout=90, what=f"{service} worker ready")
        assert proc.poll() is None, (self.tmp / log.name).read_text()
        return proc

    def start_web(self, service: str, extra_env: dict | None = None) -> int:
        """``nws web --service SERVICE`` on a free port, once its /readyz answers; its
        port. Stopped (SIGTERM) by :meth:`close`."""
        import json
        import socket
        import urllib.error
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        path = self.tmp / f"web-{service}-{port}.log"
        proc = subprocess.Popen(
            [NWS, "web", "--service", service, "--host", "127.0.0.1", "--port", str(port)],
            env={"NWS_IDENTITY_URL": "http://127.0.0.1:9", **self.env, **(extra_env or {})},
            stdout=open(path, "ab"), stderr=subprocess.STDOUT, cwd=REPO,
            start_new_session=True)
        self.webs.append(proc)

        def ready():
            assert proc.poll() is None, path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as exc:
                return json.loads(exc.read())
            except OSError:
                return None

        wait_for(ready, timeout=90, interval=0.3, what=f"nws web --service {service} ready")
        return port

    def stop_worker(self, service: str, sig=signal.SIGTERM) -> None:
        proc = self.workers.pop(service, None)
        if proc is None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:]
                         for p in sorted(self.tmp.glob("worker-*.log")))

    def headers(self, login: str) -> dict:
        if login not in self._tokens:
            res = self.client.post("/api/auth/token",
                                   json={"login": login, "password": factories.DEMO_PASSWORD})
            self._tokens[login] = res.get_json()["token"]
        return {"Authorization": f"Bearer {self._tokens[login]}"}

    def get_app(self, app_id: int, login: str = "demo-applicant") -> dict:
        return self.client.get(f"/api/intake/applications/{app_id}",
                               headers=self.headers(login)).get_json()

    def wait_status(self, app_id: int, status: str, timeout: float = 90.0) -> dict:
        try:
            return wait_for(lambda: (lambda a: a if a["status"] == status else None)(
                self.get_app(app_id)), timeout, interval=0.2,
                what=f"application {app_id} → {status}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- worker logs ---\n{self.logs()}") from None

    def queue_length(self, queue: str) -> int:
        return self.redis.llen(self.prefix + queue)

    def close(self) -> None:
        for service in list(self.workers):
            self.stop_worker(service)
        for proc in self.webs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.webs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.runtime.close()
        for key in self.redis.scan_iter(match=self.prefix + "*"):
            self.redis.delete(key)


@pytest.fixture
def distributed(pg_database, redis_client, tmp_path):
    d = Distributed(pg_database, redis_client, tmp_path)
    yield d
    d.close()


def submit_new_application(d: Distributed) -> int:
    h = d.headers("demo-applicant")
    app_id = factories.create_application(d.client, h)
    factories.put_forms(d.client, h, app_id, factories.all_forms())
    wait_for(lambda: all(f["status"] == "valid" for f in d.get_app(app_id)["forms"].values()),
             timeout=90, interval=0.2, what="forms validated")
    res = d.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    return app_id


def decide(d: Distributed, login: str, app_id: int, result: str = "承認", comment: str = ""):
    return d.client.post(f"/api/review/applications/{app_id}/decisions",
                         json={"result": result, "comment": comment}, headers=d.headers(login))


def race(transaction, first, second, hold: float = 0.5) -> None:
    """Two transactions interleaving on PostgreSQL: ``first(session)`` runs in
    ``transaction()`` in another thread, which then holds its transaction open for
    ``hold`` seconds; meanwhile ``second()`` runs here (opening its own transaction, which
    waits for whatever the first has locked). Both must finish without error."""
    import threading

    done_first = threading.Event()
    errors: list[BaseException] = []

    def run_first() -> None:
        try:
            with transaction() as session:
                first(session)
                session.flush()
                done_first.set()
                time.sleep(hold)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            done_first.set()

    thread = threading.Thread(target=run_first)
    thread.start()
    assert done_first.wait(30)
    assert not errors, errors
    second()
    thread.join(30)
    assert not thread.is_alive()
    assert not errors, errors
