"""Login throttling and revocation on PostgreSQL, where several identity web processes
share one database: the counters are locked rows (INSERT … ON CONFLICT, SELECT … FOR
UPDATE), so concurrent guesses on one account cannot all slip past the check; the
audit and the revocation state work there as on SQLite."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from nws.app import create_app
from nws.runtime import Runtime
from services.identity import login as login_flow
from services.identity.models import LoginAudit
from services.identity.seed import create_demo_accounts
from shared.config import Settings
from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.distributed


@pytest.fixture
def identity(pg_database, tmp_path, monkeypatch):
    fixed = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(login_flow, "utcnow", lambda: fixed)
    # A login slot per simultaneous guess: the throttle, not the slots, is under test.
    settings = Settings.from_env({"NWS_DATABASE_URL": pg_database, "NWS_SECRET_KEY": "p" * 48,
                                  "NWS_DATA_DIR": str(tmp_path), "NWS_LOGIN_SLOTS": "16",
                                  "NWS_LOGIN_SLOT_WAIT": "10",
                                  "NWS_BROKER_URL": "filesystem://localhost/"})
    rt = Runtime(settings, ["identity"])
    rt.migrate()
    create_demo_accounts(rt.services["identity"])
    # Two apps on one database: two identity web processes.
    apps = [create_app(rt, {"TESTING": True}), create_app(rt, {"TESTING": True})]
    yield rt, apps
    rt.close()


def test_concurrent_guesses_on_postgres_are_hashed_only_while_allowed(identity, monkeypatch):
    rt, apps = identity
    hashed = []
    real = login_flow._verify
    monkeypatch.setattr(login_flow, "_verify", lambda h, p: hashed.append(1) or real(h, p))
    statuses, start = [], threading.Barrier(16)

    def guess(i):
        client = apps[i % 2].test_client()
        start.wait()
        res = client.post("/api/auth/token", json={"login": "demo-pref", "password": "wrong-pass-2026"},
                          environ_base={"REMOTE_ADDR": f"192.0.2.{i + 1}"})
        statuses.append(res.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [401] * 4 + [429] * 12
    assert len(hashed) == 4
    with rt.services["identity"].transaction() as session:
        outcomes = sorted(session.scalars(select(LoginAudit.outcome)))
    assert outcomes == ["throttled"] * 12 + ["wrong_password"] * 4


def test_logout_and_disabling_on_postgres(identity):
    rt, apps = identity
    client = apps[0].test_client()

    def token(login):
        res = client.post("/api/auth/token", json={"login": login, "password": DEMO_PASSWORD})
        assert res.status_code == 200, res.get_json()
        return {"Authorization": f"Bearer {res.get_json()['token']}"}

    applicant, operator = token("demo-applicant"), token("demo-operator")
    assert client.post("/api/auth/logout", headers=applicant).status_code == 204
    assert client.get("/api/auth/me", headers=applicant).status_code == 401
    boe = token("demo-boe")
    assert client.patch("/api/auth/accounts/demo-boe", json={"active": False},
                        headers=operator).status_code == 200
    other = apps[1].test_client()     # the other process, after its refresh
    apps[1].extensions["nws.auth_state"].invalidate()
    res = other.get("/api/auth/me", headers=boe)
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "account_disabled"
