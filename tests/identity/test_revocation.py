"""Ending tokens and sessions: a logout ends its token; a password change, a role
change, disabling an account or an operator ending its sessions end every token of the
account; every request checks the account is still active. Here every service runs in
one process (the embedded suite): the change is seen at once. Across processes, within
the refresh bound: test_revocation_across_services.py."""
from __future__ import annotations

import re

import pytest

from shared.auth import issue_service_token
from shared.pages import COOKIE
from tests.factories import DEMO_PASSWORD
from tests.identity.test_pages_login import csrf_of, login as page_login

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# One authenticated endpoint of each service's API.
EVERY_SERVICE = ("/api/auth/me", "/api/intake/applications", "/api/review/queue",
                 "/api/matching/confirmations", "/api/master/versions")


def token(suite, login: str, password: str = DEMO_PASSWORD) -> str:
    res = suite.client.post("/api/auth/token", json={"login": login, "password": password})
    assert res.status_code == 200, res.get_json()
    return res.get_json()["token"]


def bearer(t: str) -> dict:
    return {"Authorization": f"Bearer {t}"}


def accepted_everywhere(suite, t: str) -> None:
    for url in EVERY_SERVICE:
        res = suite.client.get(url, headers=bearer(t))
        assert res.status_code != 401, (url, res.get_json())


def refused_everywhere(suite, t: str, code: str) -> None:
    for url in EVERY_SERVICE:
        res = suite.client.get(url, headers=bearer(t))
        assert res.status_code == 401, (url, res.status_code)
        error = res.get_json()["error"]
        assert error["code"] == code and JAPANESE.search(error["message"]), (url, error)


def operator_patch(suite, login: str, body: dict):
    return suite.client.patch(f"/api/auth/accounts/{login}", json=body,
                              headers=bearer(token(suite, "demo-operator")))


def test_logout_ends_that_token_on_every_service(idle_suite):
    s = idle_suite
    first, second = token(s, "demo-applicant"), token(s, "demo-applicant")
    accepted_everywhere(s, first)
    assert s.client.post("/api/auth/logout", headers=bearer(first)).status_code == 204
    refused_everywhere(s, first, "token_revoked")
    accepted_everywhere(s, second)          # the account's other sessions go on
    assert s.client.post("/api/auth/logout", headers=bearer(first)).status_code == 401


def test_disabling_an_account_ends_its_tokens_and_logins(idle_suite):
    s = idle_suite
    t = token(s, "demo-applicant")
    res = operator_patch(s, "demo-applicant", {"active": False})
    assert res.status_code == 200 and res.get_json()["active"] is False
    refused_everywhere(s, t, "account_disabled")
    assert s.client.post("/api/auth/token", json={"login": "demo-applicant",
                                                  "password": DEMO_PASSWORD}).status_code == 401
    assert operator_patch(s, "demo-applicant", {"active": True}).status_code == 200
    refused_everywhere(s, t, "token_revoked")   # enabled again: the old token stays ended
    accepted_everywhere(s, token(s, "demo-applicant"))


def test_changing_the_role_ends_the_tokens_that_name_the_old_one(idle_suite):
    s = idle_suite
    t = token(s, "demo-pref")
    res = operator_patch(s, "demo-pref", {"role": "secondary_reviewer"})
    assert res.status_code == 200 and res.get_json()["role"] == "secondary_reviewer"
    refused_everywhere(s, t, "token_revoked")
    me = s.client.get("/api/auth/me", headers=bearer(token(s, "demo-pref"))).get_json()
    assert me["role"] == "secondary_reviewer"


def test_changing_the_password_ends_every_token(idle_suite):
    s = idle_suite
    t, other = token(s, "demo-forwarder"), token(s, "demo-forwarder")
    url = "/api/auth/password"
    wrong = s.client.put(url, json={"current_password": "wrong-password-123",
                                    "new_password": "Hoshi-zora 2027 fuyu"}, headers=bearer(t))
    assert wrong.status_code == 403 and JAPANESE.search(wrong.get_json()["error"]["message"])
    weak = s.client.put(url, json={"current_password": DEMO_PASSWORD,
                                   "new_password": "password1234"}, headers=bearer(t))
    assert weak.status_code == 422 and "よく使われている" in weak.get_json()["error"]["message"]
    accepted_everywhere(s, t)
    ok = s.client.put(url, json={"current_password": DEMO_PASSWORD,
                                 "new_password": "Hoshi-zora 2027 fuyu"}, headers=bearer(t))
    assert ok.status_code == 204
    refused_everywhere(s, t, "token_revoked")
    refused_everywhere(s, other, "token_revoked")
    assert s.client.post("/api/auth/token", json={"login": "demo-forwarder",
                                                  "password": DEMO_PASSWORD}).status_code == 401
    accepted_everywhere(s, token(s, "demo-forwarder", "Hoshi-zora 2027 fuyu"))


def test_an_operator_ends_every_session_of_an_account(idle_suite):
    s = idle_suite
    t = token(s, "demo-mic")
    res = s.client.delete("/api/auth/accounts/demo-mic/sessions",
                          headers=bearer(token(s, "demo-operator")))
    assert res.status_code == 204
    refused_everywhere(s, t, "token_revoked")
    accepted_everywhere(s, token(s, "demo-mic"))


def test_only_operators_manage_accounts_and_not_their_own(idle_suite):
    s = idle_suite
    applicant = bearer(token(s, "demo-applicant"))
    assert s.client.patch("/api/auth/accounts/demo-pref", json={"active": False},
                          headers=applicant).status_code == 403
    assert s.client.get("/api/auth/accounts/demo-pref", headers=applicant).status_code == 403
    own = operator_patch(s, "demo-operator", {"role": "applicant"})
    assert own.status_code == 409 and JAPANESE.search(own.get_json()["error"]["message"])
    assert operator_patch(s, "nobody", {"active": False}).status_code == 404
    bad = operator_patch(s, "demo-pref", {"role": "root"})
    assert bad.status_code == 422
    assert operator_patch(s, "demo-pref", {}).status_code == 422
    got = s.client.get("/api/auth/accounts/demo-pref", headers=bearer(token(s, "demo-operator")))
    assert got.get_json()["role"] == "primary_reviewer" and got.get_json()["active"] is True


def test_an_operator_lifts_a_login_lock(idle_suite):
    s = idle_suite
    for _ in range(4):
        s.client.post("/api/auth/token", json={"login": "demo-jlis", "password": "x" * 12})
    locked = s.client.post("/api/auth/token", json={"login": "demo-jlis",
                                                    "password": DEMO_PASSWORD})
    assert locked.status_code == 429
    operator = bearer(token(s, "demo-operator"))
    info = s.client.get("/api/auth/accounts/demo-jlis", headers=operator).get_json()
    assert info["failed_logins"] == 4 and info["login_blocked_until"]
    assert s.client.delete("/api/auth/accounts/demo-jlis/lock", headers=operator).status_code == 204
    assert s.client.post("/api/auth/token", json={"login": "demo-jlis",
                                                  "password": DEMO_PASSWORD}).status_code == 200


def test_the_page_logout_ends_the_page_session(idle_suite):
    s = idle_suite
    client = s.app.test_client()
    page_login(client, "demo-pref")
    cookie = client.get_cookie(COOKIE).value
    html = client.get("/auth/account").get_data(as_text=True)
    assert client.post("/auth/logout", data={"csrf_token": csrf_of(html)}).status_code == 302
    # The same cookie, kept by someone, no longer opens a page, nor the API.
    thief = s.app.test_client()
    thief.set_cookie(COOKIE, cookie)
    assert thief.get("/auth/account").status_code == 302
    refused_everywhere(s, cookie, "token_revoked")


def test_a_disabled_accounts_page_session_ends(idle_suite):
    s = idle_suite
    client = s.app.test_client()
    page_login(client, "demo-applicant")
    assert client.get("/auth/account").status_code == 200
    assert operator_patch(s, "demo-applicant", {"active": False}).status_code == 200
    res = client.get("/applicant/")
    assert res.status_code == 302 and res.headers["Location"].startswith("/auth/login")


def test_the_revocation_state_is_for_the_suites_processes_only(idle_suite):
    s = idle_suite
    url = "/api/auth/revocations"
    assert s.client.get(url).status_code == 401
    assert s.client.get(url, headers=bearer(token(s, "demo-operator"))).status_code == 401
    forged = issue_service_token("another-secret-" + "x" * 30, "intake")
    assert s.client.get(url, headers=bearer(forged)).status_code == 401
    t = token(s, "demo-applicant")
    s.client.post("/api/auth/logout", headers=bearer(t))
    ok = s.client.get(url, headers=bearer(issue_service_token(
        s.runtime.settings.secret_key, "intake")))
    assert ok.status_code == 200
    body = ok.get_json()
    assert len(body["revoked_tokens"]) == 1 and body["accounts"] == []
    # A service token is no account's token.
    service = issue_service_token(s.runtime.settings.secret_key, "intake")
    assert s.client.get("/api/auth/me", headers=bearer(service)).status_code == 401


@pytest.mark.parametrize("claims_change", [{"jti": None}, {"gen": "1"}])
def test_tokens_without_an_id_or_with_a_bad_generation_are_refused(idle_suite, claims_change):
    import jwt

    claims = {"iss": "nws-identity", "sub": "1", "login": "demo-applicant", "org": "131016",
              "role": "applicant", "iat": 0, "exp": 2_000_000_000, "jti": "abc", "gen": 0}
    claims.update(claims_change)
    claims = {k: v for k, v in claims.items() if v is not None}
    forged = jwt.encode(claims, idle_suite.runtime.settings.secret_key, algorithm="HS256")
    res = idle_suite.client.get("/api/auth/me", headers=bearer(forged))
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "invalid_token"
