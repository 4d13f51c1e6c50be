"""Identity: argon2 hashes, signed expiring tokens, deny by default."""
from __future__ import annotations

import jwt
import pytest
from sqlalchemy import select

from shared.auth import Principal, issue_token, verify_token
from shared.web import ApiError


def test_passwords_are_stored_as_argon2id_hashes(idle_suite):
    from services.identity.models import Account

    with idle_suite.ctx("identity").transaction() as s:
        account = s.scalar(select(Account).where(Account.login == "demo-applicant"))
        assert account.password_hash.startswith("$argon2id$")
        assert "demo-pass" not in account.password_hash


def test_login_returns_a_token_that_expires(idle_suite):
    res = idle_suite.client.post("/api/auth/token",
                                 json={"login": "demo-pref", "password": "demo-pass-2026"})
    assert res.status_code == 200
    body = res.get_json()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["org"] == "130001" and claims["role"] == "primary_reviewer"
    assert claims["exp"] - claims["iat"] == idle_suite.runtime.settings.token_ttl_seconds
    assert body["expires_at"].endswith("+00:00")


@pytest.mark.parametrize("login,password", [("demo-pref", "wrong-password"),
                                            ("nobody", "demo-pass-2026")])
def test_wrong_credentials_get_one_message(idle_suite, login, password):
    res = idle_suite.client.post("/api/auth/token", json={"login": login, "password": password})
    assert res.status_code == 401
    assert res.get_json()["error"]["message"] == "ログイン名またはパスワードが正しくありません。"


def test_a_token_signed_with_another_key_is_refused():
    principal = Principal(1, "x", "131016", "applicant", "x", "")
    token, _ = issue_token(principal, "k" * 40, 60)
    with pytest.raises(ApiError) as err:
        verify_token(token, "z" * 40)
    assert err.value.status == 401


def test_an_expired_token_is_refused(idle_suite):
    principal = Principal(1, "demo-applicant", "131016", "applicant", "x", "")
    token, _ = issue_token(principal, idle_suite.runtime.settings.secret_key, -5)
    res = idle_suite.client.get("/api/intake/applications",
                                headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 401
    assert "有効期限" in res.get_json()["error"]["message"]


def test_a_token_with_an_unknown_role_is_refused(idle_suite):
    claims = {"iss": "nws-identity", "sub": "1", "login": "x", "org": "MIC", "role": "root",
              "iat": 0, "exp": 2_000_000_000}
    token = jwt.encode(claims, idle_suite.runtime.settings.secret_key, algorithm="HS256")
    res = idle_suite.client.get("/api/review/queue", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 401


def test_every_api_endpoint_declares_who_may_call_it(idle_suite):
    from shared.auth import check_every_view_declares_access

    assert check_every_view_declares_access(idle_suite.app) == []


def test_every_api_endpoint_but_login_refuses_anonymous_calls(idle_suite):
    import re

    app = idle_suite.app
    public = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/")
              and getattr(app.view_functions[r.endpoint], "nws_public", False)]
    # The only doors without a token: login, account activation, account requests, and
    # the OpenAPI document (what the API is, never what it holds).
    assert set(public) <= {"/api/auth/token", "/api/auth/activate",
                           "/api/openapi.json", "/api/intake/account-requests",
                           "/api/intake/account-requests/<number>"}, public
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in public:
            continue
        url = re.sub(r"<int:[^>]+>", "1", rule.rule)
        url = re.sub(r"<(?:string:)?([^>]+)>", r"\1", url)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            res = idle_suite.client.open(url, method=method, json={})
            assert res.status_code == 401, (method, url, res.status_code)


def test_users_add_refuses_bad_roles_and_organisations(idle_suite):
    from services.identity.accounts import AccountError, create_account

    with idle_suite.ctx("identity").transaction() as s:
        with pytest.raises(AccountError, match="役割"):
            create_account(s, login="abc", password="a-long-enough-password", org_id="131016", role="admin")
        with pytest.raises(AccountError, match="機関 ID"):
            create_account(s, login="abc", password="a-long-enough-password", org_id="13-1016",
                           role="applicant")
        with pytest.raises(AccountError, match="既に使われています"):
            create_account(s, login="demo-pref", password="a-long-enough-password", org_id="130001",
                           role="primary_reviewer")


# --- the revocation state cache --------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _principal(account_id=1, generation=0, token_id="t1"):
    return Principal(account_id, "x", "131016", "applicant", "x", "", generation=generation,
                     token_id=token_id)


def test_the_revocation_state_is_refreshed_within_the_bound():
    from shared.auth import AuthStateCache

    clock, states, calls = FakeClock(), [{}], []

    def fetch():
        calls.append(clock.t)
        return states[-1]

    cache = AuthStateCache(fetch, refresh_seconds=30, clock=clock)
    cache.check(_principal())
    states.append({"revoked_tokens": ["t1"]})
    clock.t += 29
    cache.check(_principal())                        # still the cached state
    clock.t += 1                                     # 30 s: fetched again
    with pytest.raises(ApiError) as err:
        cache.check(_principal())
    assert err.value.status == 401 and err.value.code == "token_revoked"
    assert calls == [1000.0, 1030.0]


def test_a_refresh_is_never_longer_than_a_minute():
    from shared.auth import AuthStateCache

    cache = AuthStateCache(dict, refresh_seconds=600)
    assert cache.refresh_seconds == 60
    with pytest.raises(ValueError, match="NWS_AUTH_REFRESH"):
        from shared.config import Settings

        Settings.from_env({"NWS_SECRET_KEY": "s" * 40, "NWS_AUTH_REFRESH": "90"})


def test_without_identity_the_last_state_serves_a_minute_then_503():
    from shared.auth import AuthStateCache

    clock, up = FakeClock(), [True]

    def fetch():
        if not up[0]:
            raise OSError("identity unreachable")
        return {"accounts": [{"id": 2, "generation": 0, "active": False}]}

    cache = AuthStateCache(fetch, refresh_seconds=30, clock=clock)
    cache.check(_principal())
    up[0] = False
    clock.t += 45                                    # refresh fails: the old state serves
    cache.check(_principal())
    with pytest.raises(ApiError) as err:
        cache.check(_principal(account_id=2))
    assert err.value.code == "account_disabled"
    clock.t += 15                                    # 60 s old: nothing is trusted
    with pytest.raises(ApiError) as err:
        cache.check(_principal())
    assert err.value.status == 503 and "認証情報を確認できません" in err.value.message
    up[0] = True
    cache.check(_principal())


def test_a_local_change_is_fetched_at_once():
    from shared.auth import AuthStateCache

    clock, states = FakeClock(), [{}]
    cache = AuthStateCache(lambda: states[-1], refresh_seconds=30, clock=clock)
    cache.check(_principal())
    states.append({"accounts": [{"id": 1, "generation": 3, "active": True}]})
    cache.invalidate()
    with pytest.raises(ApiError) as err:
        cache.check(_principal(generation=2))
    assert err.value.code == "token_revoked"
    cache.check(_principal(generation=3))            # issued after the change


@pytest.mark.parametrize("org, role, sees", [
    ("130001", "primary_reviewer", True),     # routed to (一次審査)
    ("131016", "forwarder", True),            # routed to (経由)
    ("MIC", "secondary_reviewer", False),     # not (yet) routed to
    ("270008", "primary_reviewer", False),    # another prefecture
    ("130001", "applicant", False),           # a routed organisation, but not as reviewer
    ("MIC", "operator", True),                # operators see every application
])
def test_one_rule_says_who_sees_an_application_under_review(org, role, sees):
    from shared.auth import sees_routed

    routes = {"forwarding": "131016", "primary": "130001"}
    assert sees_routed(Principal(1, "x", org, role, "x", ""), routes.values()) is sees
