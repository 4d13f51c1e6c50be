"""The password policy: 12 characters or more, not the login nor containing it, not in
the shipped list of common passwords; Japanese messages; the embedded demo password
still passes."""
from __future__ import annotations

import hashlib
import re

import pytest

from services.identity import accounts
from services.identity.accounts import AccountError, check_password, create_account
from services.identity.seed import DEMO_ACCOUNTS, DEMO_PASSWORD

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def refused(password: str, login: str = "someone") -> str:
    with pytest.raises(AccountError) as err:
        check_password(password, login)
    assert JAPANESE.search(str(err.value))
    return str(err.value)


def test_the_demo_password_passes_for_every_demo_account():
    assert len(DEMO_PASSWORD) == 14
    for login, *_ in DEMO_ACCOUNTS:
        check_password(DEMO_PASSWORD, login)


def test_at_least_12_characters():
    assert "12 文字以上" in refused("k9#Lm2$pQ7z")          # 11
    check_password("k9#Lm2$pQ7zX", "someone")               # 12
    assert "200 文字以内" in refused("x7" * 101)


@pytest.mark.parametrize("login,password", [
    ("tanaka.taro.26", "Tanaka.Taro.26"),           # equal
    ("tanaka.taro", "my-tanaka.taro-2026"),         # containing
    ("tanaka.taro", "MY-TANAKA.TARO-2026"),         # whatever the case
    ("tanaka", "ｔａｎａｋａ-secret-2026"),          # or the width
])
def test_the_login_must_not_be_in_the_password(login, password):
    assert "ログイン名" in refused(password, login)


@pytest.mark.parametrize("password", ["password1234", "Password1234", "qwertyuiop123",
                                      "1q2w3e4r5t6y", "ｐａｓｓｗｏｒｄ１２３４"])
def test_common_passwords_are_refused(password):
    assert "よく使われている" in refused(password)


def test_the_list_is_shipped_with_its_provenance():
    words = accounts.common_passwords()
    assert len(words) > 19_000
    assert all(w == w.lower() for w in words if w.isascii())
    text = accounts.COMMON_PASSWORDS.read_bytes()
    sources = (accounts.COMMON_PASSWORDS.parent / "SOURCES.md").read_text(encoding="utf-8")
    assert hashlib.sha256(text).hexdigest() in sources
    assert "roycewilliams" in sources


def test_account_creation_applies_the_policy(idle_suite):
    with idle_suite.ctx("identity").transaction() as s:
        with pytest.raises(AccountError, match="12 文字以上"):
            create_account(s, login="osaka-pref", password="short-pass", org_id="270008",
                           role="primary_reviewer")
        with pytest.raises(AccountError, match="ログイン名"):
            create_account(s, login="osaka-pref", password="osaka-pref-2026!", org_id="270008",
                           role="primary_reviewer")
        with pytest.raises(AccountError, match="よく使われている"):
            create_account(s, login="osaka-pref", password="password1234", org_id="270008",
                           role="primary_reviewer")
        create_account(s, login="osaka-pref", password="Kawa-semi 2026 natsu", org_id="270008",
                       role="primary_reviewer")
