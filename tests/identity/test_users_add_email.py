"""`nws users add --email`: the account's notification address, checked."""
from __future__ import annotations

import sqlite3

from tests.test_cli import run


def test_users_add_keeps_the_email_address_and_refuses_a_bad_one_in_japanese(tmp_path):
    run(tmp_path, "db", "upgrade")
    out = run(tmp_path, "users", "add", "--login", "osaka-city", "--password-stdin",
              "--org", "271004", "--role", "applicant", "--email", "joho@city.osaka.lg.jp",
              input="a-long-password-2026\n")
    assert "created account osaka-city" in out.stdout
    bad = run(tmp_path, "users", "add", "--login", "kobe-city", "--password-stdin",
              "--org", "281000", "--role", "applicant", "--email", "joho@@kobe",
              input="a-long-password-2026\n", check=False)
    assert bad.returncode != 0
    assert "メールアドレス（email）の形式が正しくありません" in bad.stderr and "joho@@kobe" in bad.stderr
    with sqlite3.connect(tmp_path / "var" / "identity.db") as db:
        rows = db.execute("select login, email from identity_accounts").fetchall()
    assert rows == [("osaka-city", "joho@city.osaka.lg.jp")]
