"""Revocation across services, wired as deployed: identity serves HTTP (waitress) and
each other service is its own app (as `nws web --service S` builds it) with its own
database and its own revocation cache, fetching the state from identity's API
(NWS_IDENTITY_URL) every NWS_AUTH_REFRESH seconds (here 1) — the apps share this test
process, nothing else. A logged-out token, a disabled account's token and a
role-changed account's token are refused by every service's API within the bound."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from nws.app import create_app
from nws.runtime import Runtime
from services.identity.seed import create_demo_accounts
from shared.config import Settings
from tests.conftest import wait_for
from tests.factories import DEMO_PASSWORD

REFRESH = 1.0
BOUND = 60.0        # what the runbook promises
PROBES = {"identity": "/api/auth/me", "intake": "/api/intake/applications",
          "review": "/api/review/queue", "matching": "/api/matching/confirmations",
          "master": "/api/master/versions"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    def __init__(self, tmp):
        from waitress import create_server

        env = {"NWS_DATA_DIR": str(tmp / "data"), "NWS_SECRET_KEY": "d" * 48,
               "NWS_BROKER_URL": "filesystem://localhost/", "NWS_AUTH_REFRESH": str(REFRESH)}
        self.runtimes = {"identity": Runtime(Settings.from_env(env), ["identity"])}
        self.runtimes["identity"].migrate()
        create_demo_accounts(self.runtimes["identity"].services["identity"])
        self.apps = {"identity": create_app(self.runtimes["identity"], {"TESTING": True})}
        port = _free_port()
        self.server = create_server(self.apps["identity"], host="127.0.0.1", port=port, threads=4)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        env["NWS_IDENTITY_URL"] = f"http://127.0.0.1:{port}"
        for service in ("intake", "review", "matching", "master"):
            rt = Runtime(Settings.from_env(env), [service])
            rt.migrate()
            self.runtimes[service] = rt
            self.apps[service] = create_app(rt, {"TESTING": True})
        self.clients = {name: app.test_client() for name, app in self.apps.items()}

    def token(self, login: str) -> str:
        res = self.clients["identity"].post("/api/auth/token",
                                            json={"login": login, "password": DEMO_PASSWORD})
        assert res.status_code == 200, res.get_json()
        return res.get_json()["token"]

    def status(self, service: str, token: str) -> tuple[int, str]:
        res = self.clients[service].get(PROBES[service],
                                        headers={"Authorization": f"Bearer {token}"})
        code = res.get_json()["error"]["code"] if res.status_code >= 400 else ""
        return res.status_code, code

    def accepted_everywhere(self, token: str) -> None:
        for service in PROBES:
            assert self.status(service, token)[0] != 401, service

    def refused_everywhere_within_the_bound(self, token: str, code: str) -> float:
        started = time.monotonic()
        for service in PROBES:
            wait_for(lambda: self.status(service, token) == (401, code), timeout=BOUND,
                     interval=0.1, what=f"{service} refusing the token ({code})")
        return time.monotonic() - started

    def operator(self, method: str, url: str, body=None):
        return self.clients["identity"].open(url, method=method, json=body, headers={
            "Authorization": f"Bearer {self.token('demo-operator')}"})

    def close(self):
        self.server.close()
        self.thread.join(5)
        for rt in self.runtimes.values():
            rt.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("revocation"))
    yield d
    d.close()


def test_a_logged_out_token_is_refused_by_every_service(deployment):
    d = deployment
    token = d.token("demo-applicant")
    d.accepted_everywhere(token)
    res = d.clients["identity"].post("/api/auth/logout",
                                     headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 204
    assert d.status("identity", token) == (401, "token_revoked")   # at once where it ran
    took = d.refused_everywhere_within_the_bound(token, "token_revoked")
    assert took < REFRESH + 5


def test_a_disabled_accounts_token_is_refused_by_every_service(deployment):
    d = deployment
    token = d.token("demo-boe")
    d.accepted_everywhere(token)
    assert d.operator("PATCH", "/api/auth/accounts/demo-boe", {"active": False}).status_code == 200
    took = d.refused_everywhere_within_the_bound(token, "account_disabled")
    assert took < REFRESH + 5


def test_a_role_changed_accounts_token_is_refused_by_every_service(deployment):
    d = deployment
    token = d.token("demo-pref")
    d.accepted_everywhere(token)
    res = d.operator("PATCH", "/api/auth/accounts/demo-pref", {"role": "secondary_reviewer"})
    assert res.status_code == 200
    took = d.refused_everywhere_within_the_bound(token, "token_revoked")
    assert took < REFRESH + 5
    d.accepted_everywhere(d.token("demo-pref"))


def test_a_web_process_without_identity_needs_to_know_where_it_is(tmp_path):
    env = {"NWS_DATA_DIR": str(tmp_path), "NWS_SECRET_KEY": "d" * 48,
           "NWS_BROKER_URL": "filesystem://localhost/"}
    rt = Runtime(Settings.from_env(env), ["intake"])
    try:
        with pytest.raises(RuntimeError, match="NWS_IDENTITY_URL"):
            create_app(rt)
    finally:
        rt.close()
