"""A token's signature is checked once every few seconds per process, never its
revocation: logouts, disabled accounts and expiry still end it at once."""
from __future__ import annotations

import pytest

from shared import auth
from shared.auth import Principal, VerifiedTokens, issue_token
from shared.web import ApiError

SECRET = "verified-tokens-test-" + "k" * 32


def _token(ttl: int = 600) -> str:
    return issue_token(Principal(5, "p", "131016", "applicant", "名", "課"), SECRET, ttl)[0]


def test_a_token_sent_again_is_not_verified_again(monkeypatch):
    calls = []
    real = auth.verify_token
    monkeypatch.setattr(auth, "verify_token", lambda t, s: calls.append(t) or real(t, s))
    kept, token = VerifiedTokens(), _token()
    first = kept.principal(token, SECRET)
    assert kept.principal(token, SECRET) == first and first.login == "p"
    assert len(calls) == 1


def test_it_is_verified_again_after_the_keeping_time_and_with_another_secret(monkeypatch):
    now = [1_000_000_000.0]
    calls = []
    real = auth.verify_token
    monkeypatch.setattr(auth, "verify_token", lambda t, s: calls.append(s) or real(t, s))
    kept, token = VerifiedTokens(10.0, clock=lambda: now[0]), _token(ttl=10 ** 9)
    kept.principal(token, SECRET)
    now[0] += 10.0
    kept.principal(token, SECRET)
    with pytest.raises(ApiError):
        kept.principal(token, "another-" + "z" * 32)
    assert len(calls) == 3


def test_a_kept_token_is_refused_from_the_moment_it_expires():
    kept, token = VerifiedTokens(60.0), _token(ttl=5)
    principal = kept.principal(token, SECRET)
    kept.clock = lambda: principal.token_expires_at.timestamp() + 0.5
    with pytest.raises(ApiError) as err:
        kept.principal(token, SECRET)
    assert err.value.code == "token_expired"


def test_a_bad_token_is_never_kept():
    kept = VerifiedTokens()
    for _ in range(2):
        with pytest.raises(ApiError):
            kept.principal(_token() + "x", SECRET)
    assert not kept._kept


def test_a_logout_ends_a_token_at_once_although_its_signature_is_kept(idle_suite):
    login = idle_suite.client.post("/api/auth/token", json={"login": "demo-applicant",
                                                            "password": "demo-pass-2026"})
    headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
    assert idle_suite.client.get("/api/intake/applications", headers=headers).status_code == 200
    assert idle_suite.client.post("/api/auth/logout", headers=headers).status_code == 204
    res = idle_suite.client.get("/api/intake/applications", headers=headers)
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "token_revoked"
