"""Accounts issued on an approved account request: no password until the one-time
activation link sets one; a used, unknown or expired link changes nothing."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from services.identity import activation
from services.identity.models import Account, Activation
from shared.db import utcnow
from tests.factories import DEMO_PASSWORD

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ORG = {"id": "012025", "name": "北海道函館市", "kind": "市", "branch": "executive",
       "prefecture_code": "010006", "parent_id": None}


def approved(request_id: int = 1, login: str = "hakodate-joho") -> dict:
    return {"request_id": request_id, "number": f"A2026-{request_id:06d}", "org": ORG,
            "login": login, "role": "applicant", "name": "函館 一郎",
            "department": "情報政策課", "approved_at": utcnow().isoformat()}


def issue(suite, payload: dict) -> str:
    """Run the identity consumer's effect; return the token sent to intake."""
    ctx = suite.ctx("identity")
    with ctx.transaction() as session:
        activation.issue(ctx, session, payload)
        outbox = session.scalars(select(ctx.Outbox)).all()
    issued = [o.envelope["payload"] for o in outbox if o.envelope["type"] == "account.issued"
              and o.envelope["payload"]["request_id"] == payload["request_id"]]
    assert len(issued) == 1
    return issued[0]["activation_token"]


def activate(suite, token: str, password: str = "new-secret-2026"):
    return suite.client.post("/api/auth/activate", json={"token": token, "password": password})


def login(suite, name: str, password: str):
    return suite.client.post("/api/auth/token", json={"login": name, "password": password})


def error(res, status: int, code: str) -> None:
    assert res.status_code == status, res.get_json()
    body = res.get_json()["error"]
    assert body["code"] == code
    assert JAPANESE.search(body["message"])


def test_issued_account_has_no_password_and_cannot_log_in(idle_suite):
    token = issue(idle_suite, approved())
    with idle_suite.ctx("identity").transaction() as session:
        account = session.scalar(select(Account).where(Account.login == "hakodate-joho"))
        stored = session.scalar(select(Activation).where(Activation.account_id == account.id))
    assert account.active is False and account.password_hash == ""
    assert account.org_id == "012025" and account.role == "applicant"
    assert stored.token_hash != token and token not in stored.token_hash  # hashed
    assert stored.expires_at - utcnow() > dt.timedelta(days=6)
    assert login(idle_suite, "hakodate-joho", "").status_code in (401, 422)


def test_activation_sets_the_password_with_argon2_and_the_account_logs_in(idle_suite):
    token = issue(idle_suite, approved())
    res = activate(idle_suite, token)
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["login"] == "hakodate-joho"
    with idle_suite.ctx("identity").transaction() as session:
        account = session.scalar(select(Account).where(Account.login == "hakodate-joho"))
    assert account.active and account.password_hash.startswith("$argon2id$")
    res = login(idle_suite, "hakodate-joho", "new-secret-2026")
    assert res.status_code == 200
    me = idle_suite.client.get("/api/auth/me", headers={
        "Authorization": f"Bearer {res.get_json()['token']}"}).get_json()
    assert me["org"] == "012025" and me["role"] == "applicant"


def test_a_used_link_does_nothing(idle_suite):
    token = issue(idle_suite, approved())
    assert activate(idle_suite, token).status_code == 200
    error(activate(idle_suite, token, "attacker-pass-1"), 409, "activation_used")
    assert login(idle_suite, "hakodate-joho", "attacker-pass-1").status_code == 401
    assert login(idle_suite, "hakodate-joho", "new-secret-2026").status_code == 200


def test_an_expired_link_does_nothing(idle_suite):
    token = issue(idle_suite, approved())
    with idle_suite.ctx("identity").transaction() as session:
        row = session.scalar(select(Activation))
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    error(activate(idle_suite, token), 410, "activation_expired")
    with idle_suite.ctx("identity").transaction() as session:
        account = session.scalar(select(Account).where(Account.login == "hakodate-joho"))
        assert not account.active and account.password_hash == ""


@pytest.mark.parametrize("token", ["not-a-token", "x" * 43])
def test_an_unknown_or_rejected_requests_link_does_nothing(idle_suite, token):
    error(activate(idle_suite, token), 404, "unknown_activation")


def test_a_short_password_is_422_and_the_link_stays_usable(idle_suite):
    token = issue(idle_suite, approved())
    error(activate(idle_suite, token, "short"), 422, "bad_password")
    assert activate(idle_suite, token).status_code == 200


def test_the_same_approval_twice_issues_one_account(idle_suite):
    issue(idle_suite, approved())
    ctx = idle_suite.ctx("identity")
    with ctx.transaction() as session:
        activation.issue(ctx, session, approved())
        assert len(session.scalars(select(Account).where(Account.org_id == "012025")).all()) == 1


def test_a_taken_login_gets_a_suffix(idle_suite):
    issue(idle_suite, approved(1, "demo-applicant"))
    with idle_suite.ctx("identity").transaction() as session:
        logins = set(session.scalars(select(Account.login).where(Account.org_id == "012025")))
    assert logins == {"demo-applicant-2"}
    # The demo account itself is untouched.
    assert login(idle_suite, "demo-applicant", DEMO_PASSWORD).status_code == 200


@pytest.mark.parametrize("password,words", [("Hakodate-Joho-2026", "ログイン名"),
                                            ("password1234", "よく使われている"),
                                            ("elevenchars", "12 文字以上")])
def test_activation_applies_the_password_policy(idle_suite, password, words):
    token = issue(idle_suite, approved())
    res = activate(idle_suite, token, password)
    error(res, 422, "bad_password")
    assert words in res.get_json()["error"]["message"]
    assert activate(idle_suite, token).status_code == 200


def test_disabling_an_issued_account_cancels_its_activation_link(idle_suite):
    from services.identity import admin

    token = issue(idle_suite, approved())
    with idle_suite.ctx("identity").transaction() as session:
        assert admin.set_active(admin.find(session, "hakodate-joho"), False) is True
    error(activate(idle_suite, token), 410, "activation_expired")
    assert login(idle_suite, "hakodate-joho", "new-secret-2026").status_code == 401
    with idle_suite.ctx("identity").transaction() as session:   # nothing left to cancel
        assert admin.set_active(admin.find(session, "hakodate-joho"), False) is False
