"""Shared fixtures: an embedded suite per test (SQLite and a filesystem broker in a
temporary folder, a real Celery worker thread), an HTTP client, and helpers."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest


def _nws_testing_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.value == "nws.testing" for ep in entry_points(group="pytest11"))


# nws.testing's fixtures come with the suite's installation (its pytest11 entry point);
# an environment installed before that entry point existed loads them from here.
if not _nws_testing_installed():
    pytest.register_assert_rewrite("nws.testing")  # imported below, before pytest_plugins
    pytest_plugins = ["nws.testing"]

from nws.app import create_app
from nws.embedded import EmbeddedWorker
from nws.runtime import Runtime
from shared.config import Settings
from tests import factories

CI = os.environ.get("CI") == "true"


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.05,
             what: str = "condition"):
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last value: {value!r})")
        time.sleep(interval)


def embedded_settings(data_dir: Path, **overrides) -> Settings:
    env = {"NWS_DATA_DIR": str(data_dir), "NWS_SWEEP_INTERVAL": "0.5",
           "NWS_OUTBOX_REDELIVER_AFTER": "30"}
    env.update({k: str(v) for k, v in overrides.pop("env", {}).items()})
    return Settings.from_env(env, embedded=True, **overrides)


class Suite:
    """An embedded suite: runtime, Flask test client, worker thread."""

    def __init__(self, data_dir: Path, *, start_worker: bool = True, env: dict | None = None):
        self.data_dir = data_dir
        self.runtime = Runtime(embedded_settings(data_dir, env=env or {}))
        self.runtime.migrate()
        self.runtime.seed()
        self.app = create_app(self.runtime, {"TESTING": True})
        self.client = self.app.test_client()
        self.worker = EmbeddedWorker(self.runtime).start() if start_worker else None
        self._tokens: dict[str, str] = {}

    def ctx(self, service: str):
        return self.runtime.services[service]

    def token(self, login: str, password: str = factories.DEMO_PASSWORD) -> str:
        if login not in self._tokens:
            res = self.client.post("/api/auth/token", json={"login": login, "password": password})
            assert res.status_code == 200, res.get_json()
            self._tokens[login] = res.get_json()["token"]
        return self._tokens[login]

    def headers(self, login: str) -> dict:
        return {"Authorization": f"Bearer {self.token(login)}"}

    def add_user(self, login: str, org: str, role: str, name: str = "",
                 email: str | None = None) -> str:
        from services.identity.accounts import create_account

        with self.ctx("identity").transaction() as session:
            create_account(session, login=login, password=factories.DEMO_PASSWORD, org_id=org,
                           role=role, name=name or login, department="テスト課", email=email)
        return login

    def get_app(self, app_id: int, login: str = "demo-applicant") -> dict:
        res = self.client.get(f"/api/intake/applications/{app_id}", headers=self.headers(login))
        assert res.status_code == 200, res.get_json()
        return res.get_json()

    def wait_status(self, app_id: int, status: str, login: str = "demo-applicant",
                    timeout: float = 20.0) -> dict:
        return wait_for(lambda: (lambda a: a if a["status"] == status else None)(
            self.get_app(app_id, login)), timeout, what=f"application {app_id} → {status}")

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.runtime.close()


@pytest.fixture
def suite(tmp_path):
    s = Suite(tmp_path / "var")
    yield s
    s.close()


@pytest.fixture
def idle_suite(tmp_path):
    """A suite without a worker: tasks stay queued (for API-only tests)."""
    s = Suite(tmp_path / "var", start_worker=False)
    yield s
    s.close()
