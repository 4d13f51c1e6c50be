"""Login throttling: failed logins counted per login name and per client address in
identity's database; growing delays, then a temporary lock answered 429 with
Retry-After and a Japanese message; checked before the password hash is computed; a
success resets the account's counter. Every attempt is audited, never its password."""
from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import select

from services.identity import login as login_flow
from services.identity import throttle
from services.identity.models import LoginAudit, LoginThrottle
from tests.conftest import Suite
from tests.factories import DEMO_PASSWORD

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
WRONG = "not-the-password-2026"


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(login_flow, "utcnow", c)
    return c


@pytest.fixture
def hashes(monkeypatch):
    """How many password hashes were computed."""
    calls = []
    real = login_flow._verify

    def counting(password_hash, password):
        calls.append(1)
        return real(password_hash, password)

    monkeypatch.setattr(login_flow, "_verify", counting)
    return calls


def post(suite, login, password, address="192.0.2.10"):
    return suite.client.post("/api/auth/token", json={"login": login, "password": password},
                             environ_base={"REMOTE_ADDR": address})


def throttled(res, code: str) -> int:
    assert res.status_code == 429, res.get_json()
    body = res.get_json()["error"]
    assert body["code"] == code and JAPANESE.search(body["message"])
    seconds = int(res.headers["Retry-After"])
    assert res.get_json()["retry_after"] == seconds
    return seconds


def test_the_waits_grow_then_lock():
    policy = throttle.Policy(lock_after=10, lock_seconds=900)
    assert [policy.wait_after(n) for n in range(1, 12)] == [0, 0, 0, 2, 4, 8, 16, 32, 64, 900, 900]


def test_growing_delays_then_a_lock_answered_429(idle_suite, clock, hashes):
    s = idle_suite
    for _ in range(3):                                    # three free failures
        assert post(s, "demo-pref", WRONG).status_code == 401
    assert post(s, "demo-pref", WRONG).status_code == 401  # the 4th: wait 2 s
    assert throttled(post(s, "demo-pref", WRONG), "login_delayed") == 2
    clock.advance(1)
    assert throttled(post(s, "demo-pref", DEMO_PASSWORD), "login_delayed") == 1
    waits = []
    for _ in range(6):                                    # failures 5 … 10
        clock.advance(waits[-1] if waits else 2)
        assert post(s, "demo-pref", WRONG).status_code == 401
        waits.append(int(post(s, "demo-pref", WRONG).headers["Retry-After"]))
    assert waits == [4, 8, 16, 32, 64, 900]
    res = post(s, "demo-pref", DEMO_PASSWORD)            # even the right password
    assert throttled(res, "login_locked") == 900
    assert "このログイン名" in res.get_json()["error"]["message"]
    assert "約 15 分後" in res.get_json()["error"]["message"]
    computed = len(hashes)
    for _ in range(20):                                   # a flood while locked:
        post(s, "demo-pref", WRONG)                       # no hash computed
    assert len(hashes) == computed == 10
    clock.advance(900)
    assert post(s, "demo-pref", DEMO_PASSWORD).status_code == 200


def test_a_success_resets_the_accounts_counter(idle_suite, clock):
    s = idle_suite
    for _ in range(3):
        assert post(s, "demo-pref", WRONG).status_code == 401
    assert post(s, "demo-pref", DEMO_PASSWORD).status_code == 200
    for _ in range(3):                                    # free again
        assert post(s, "demo-pref", WRONG).status_code == 401
    assert post(s, "demo-pref", WRONG).status_code == 401
    throttled(post(s, "demo-pref", WRONG), "login_delayed")


def test_unknown_logins_are_throttled_alike(idle_suite, clock, hashes):
    s = idle_suite
    for _ in range(4):
        assert post(s, "nobody-here", WRONG).status_code == 401
    throttled(post(s, "nobody-here", WRONG), "login_delayed")
    assert len(hashes) == 4            # a dummy hash each time, as for a real account


def test_failures_are_counted_per_client_address(tmp_path, clock):
    s = Suite(tmp_path / "var", start_worker=False, env={"NWS_LOGIN_ADDRESS_LOCK_AFTER": "8"})
    try:
        for i in range(8):             # one address trying many logins
            assert post(s, f"guess-{i}", WRONG, "192.0.2.66").status_code == 401
            clock.advance(100)         # past every delay, not past the lock
        res = post(s, "demo-pref", DEMO_PASSWORD, "192.0.2.66")
        throttled(res, "login_locked")
        assert "この接続元" in res.get_json()["error"]["message"]
        # Another address, and the account itself, are not held up.
        assert post(s, "demo-pref", DEMO_PASSWORD, "192.0.2.67").status_code == 200
    finally:
        s.close()


def test_a_success_takes_back_only_its_own_count_on_the_address(tmp_path, clock):
    s = Suite(tmp_path / "var", start_worker=False, env={"NWS_LOGIN_ADDRESS_LOCK_AFTER": "8"})
    try:
        for i in range(7):
            assert post(s, f"guess-{i}", WRONG, "192.0.2.66").status_code == 401
            clock.advance(100)
        assert post(s, "demo-pref", DEMO_PASSWORD, "192.0.2.66").status_code == 200
        with s.ctx("identity").transaction() as session:
            row = session.get(LoginThrottle, "address:192.0.2.66")
            assert row.failures == 7                  # the success did not count
            assert row.blocked_until <= clock.now     # and left no wait behind
        assert post(s, "demo-applicant", DEMO_PASSWORD, "192.0.2.66").status_code == 200
        assert post(s, "guess-8", WRONG, "192.0.2.66").status_code == 401   # the 8th
        throttled(post(s, "demo-applicant", DEMO_PASSWORD, "192.0.2.66"), "login_locked")
    finally:
        s.close()


def test_concurrent_attempts_cannot_slip_past_the_check(idle_suite, clock, hashes,
                                                       monkeypatch):
    """Twenty simultaneous guesses on one account: each reserves its attempt before
    hashing, so only the free ones and the first delayed one are hashed (with a login
    slot for each, so that the throttle, not the slots, decides)."""
    slots = threading.BoundedSemaphore(20)
    monkeypatch.setattr(login_flow, "_login_slots", lambda settings: slots)
    app = idle_suite.app
    statuses = []
    start = threading.Barrier(20)

    def guess(i):
        client = app.test_client()
        start.wait()
        res = client.post("/api/auth/token", json={"login": "demo-pref", "password": WRONG},
                          environ_base={"REMOTE_ADDR": f"192.0.2.{100 + i}"})
        statuses.append(res.status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [401] * 4 + [429] * 16
    assert len(hashes) == 4


def test_every_attempt_is_audited_without_its_password(idle_suite, clock):
    s = idle_suite
    from services.identity import admin

    with s.ctx("identity").transaction() as session:
        admin.set_active(admin.find(session, "demo-forwarder"), False)
    assert post(s, "demo-pref", DEMO_PASSWORD, "192.0.2.1").status_code == 200
    assert post(s, "demo-pref", WRONG, "192.0.2.2").status_code == 401
    assert post(s, "no-such-login", WRONG, "192.0.2.3").status_code == 401
    assert post(s, "demo-forwarder", DEMO_PASSWORD, "192.0.2.4").status_code == 401
    for _ in range(3):
        post(s, "demo-pref", WRONG, "192.0.2.2")
    assert post(s, "demo-pref", WRONG, "192.0.2.2").status_code == 429
    with s.ctx("identity").transaction() as session:
        rows = session.scalars(select(LoginAudit).order_by(LoginAudit.id)).all()
    seen = [(r.login, r.outcome, r.address, r.channel) for r in rows]
    assert seen[:4] == [("demo-pref", "success", "192.0.2.1", "api"),
                        ("demo-pref", "wrong_password", "192.0.2.2", "api"),
                        ("no-such-login", "unknown_login", "192.0.2.3", "api"),
                        ("demo-forwarder", "inactive", "192.0.2.4", "api")]
    assert seen[-1] == ("demo-pref", "throttled", "192.0.2.2", "api")
    assert rows[0].account_id is not None and rows[2].account_id is None
    assert all(r.at is not None for r in rows)
    for r in rows:
        for value in (r.login, r.outcome, r.address, r.channel):
            assert DEMO_PASSWORD not in value and WRONG not in value


def test_the_login_page_is_throttled_too(idle_suite, clock):
    from tests.identity.test_pages_login import login as page_login

    client = idle_suite.app.test_client()
    for _ in range(4):
        assert page_login(client, "demo-pref", WRONG).status_code == 401
    res = page_login(client, "demo-pref", DEMO_PASSWORD)
    assert res.status_code == 429 and int(res.headers["Retry-After"]) == 2
    html = res.get_data(as_text=True)
    assert "ログインの失敗が続いています。2 秒後に再度お試しください。" in html
    with idle_suite.ctx("identity").transaction() as session:
        channels = set(session.scalars(select(LoginAudit.channel)))
    assert channels == {"page"}


def test_old_and_cleared_counters_are_deleted(idle_suite, clock):
    s = idle_suite
    assert post(s, "made-up-login", WRONG, "192.0.2.70").status_code == 401
    clock.advance(2 * 86400)
    assert post(s, "typo-login", WRONG, "192.0.2.71").status_code == 401
    assert post(s, "demo-pref", DEMO_PASSWORD, "192.0.2.72").status_code == 200
    with s.ctx("identity").transaction() as session:
        keys = set(session.scalars(select(LoginThrottle.key)))
    assert keys == {"account:typo-login", "address:192.0.2.71"}


def test_a_process_computes_at_most_its_login_slots_at_once(tmp_path, hashes):
    """While every login slot of the process is taken (a flood from many addresses that
    no per-key counter stops), a further attempt is refused at once: 503, Retry-After,
    a Japanese message, no hash, no counter touched; once a slot is free it goes ahead."""
    s = Suite(tmp_path / "var", start_worker=False,
              env={"NWS_LOGIN_SLOTS": "1", "NWS_LOGIN_SLOT_WAIT": "0"})
    try:
        gate = login_flow._login_slots(s.ctx("identity").settings)
        assert gate.acquire(timeout=1)                       # the flood holds the slot
        try:
            res = post(s, "demo-pref", DEMO_PASSWORD, address="198.51.100.1")
            assert res.status_code == 503, res.get_json()
            error = res.get_json()["error"]
            assert error["code"] == "login_busy" and "混み合って" in error["message"]
            assert res.headers["Retry-After"] == "2"
            page = s.app.test_client().get("/auth/login")
            assert page.status_code == 200                   # other requests are served
        finally:
            gate.release()
        assert hashes == []
        with s.ctx("identity").transaction() as session:
            assert session.scalars(select(LoginThrottle)).all() == []
        assert post(s, "demo-pref", DEMO_PASSWORD).status_code == 200
        assert len(hashes) == 1
    finally:
        s.close()


def test_a_refused_attempt_takes_no_row_lock(idle_suite, clock, monkeypatch):
    """Once a key must wait, further attempts are refused by a plain read: the locking
    reservation is not even called, so a flood on one key never queues on its row."""
    s = idle_suite
    for _ in range(4):
        post(s, "demo-pref", WRONG)
    reserved = []
    real = throttle.reserve
    monkeypatch.setattr(throttle, "reserve", lambda *a: reserved.append(1) or real(*a))
    for _ in range(5):
        throttled(post(s, "demo-pref", WRONG), "login_delayed")
    assert reserved == []
