"""Accounts: the password policy, creation, argon2id hashes."""
from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit
from shared.auth import ROLES, Principal
from shared.web import ApiError
from services.identity.models import Account
from services.identity.notifications import check_email

# argon2id with OWASP's recommended parameters (Password Storage Cheat Sheet: 19 MiB,
# 2 iterations, 1 lane): about 20 ms of one core per hash, where the library's default
# (64 MiB, 3 iterations, 4 lanes) takes every core of this machine for over 100 ms, so
# that a flood of guesses would starve everyone else. Hashes made with other parameters
# still verify and are rehashed at the account's next successful login.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A hash to compare against when the login is unknown, so both cases take as long.
_DUMMY_HASH = _hasher.hash("not a password")

ORG_ID = re.compile(r"^(\d{6}(-BOE)?|[A-Z][A-Z0-9-]{2,39})$")  # operator ids start with a letter
LOGIN = re.compile(r"^[A-Za-z0-9._@-]{3,100}$")


PASSWORD_MIN = 12
PASSWORD_MAX = 200
COMMON_PASSWORDS = Path(__file__).parent / "passwords" / "common-passwords.txt"


class AccountError(ValueError):
    """A refused account change, in Japanese; ``field`` names the input it is about
    (pages show it beside that field)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class LoginTaken(AccountError):
    pass


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lowercase; provenance in passwords/SOURCES.md)."""
    with COMMON_PASSWORDS.open(encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def _folded(text: str) -> str:
    """Case- and width-blind form: full-width ＡＢＣ１２３ compares as abc123."""
    return unicodedata.normalize("NFKC", text).casefold()


def check_password(password: str, login: str = "") -> None:
    """The password policy: 12 to 200 characters, not the login nor containing it, not
    a common password. Raises AccountError with a Japanese message."""
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"パスワードは {PASSWORD_MIN} 文字以上にしてください。")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"パスワードは {PASSWORD_MAX} 文字以内にしてください。")
    folded = _folded(password)
    if login and _folded(login) in folded:
        raise AccountError("パスワードにログイン名を含めないでください。")
    if folded in common_passwords() or folded.strip() in common_passwords():
        raise AccountError("このパスワードはよく使われているため使用できません。"
                           "推測されにくいパスワードにしてください。")


def create_account(session: Session, *, login: str, password: str, org_id: str, role: str,
                   name: str = "", department: str = "", email: str | None = None) -> Account:
    if not LOGIN.match(login):
        raise AccountError("ログイン名は半角英数字と . _ @ - の 3〜100 文字にしてください。",
                           "login")
    if session.scalar(select(Account.id).where(Account.login == login)) is not None:
        raise LoginTaken(f"ログイン名 {login} は既に使われています。", "login")
    if role not in ROLES:
        raise AccountError(f"役割は {', '.join(ROLES)} のいずれかです。", "role")
    if not ORG_ID.match(org_id):
        raise AccountError("機関 ID が正しくありません（例: 131016, 131016-BOE, JLIS, MIC）。",
                           "org")
    try:
        email = check_email(email)
    except ApiError as exc:
        raise AccountError(exc.message, "email") from None
    try:
        check_password(password, login)
    except AccountError as exc:
        raise AccountError(str(exc), "password") from None
    account = Account(login=login, password_hash=_hasher.hash(password), org_id=org_id,
                      role=role, name=name or login, department=department, email=email)
    session.add(account)
    session.flush()
    audit.record(session, "account.created", f"account:{login}",
                 {"role": role, "org": org_id}, subject_org=org_id)
    return account


def principal_of(account: Account) -> Principal:
    return Principal(account.id, account.login, account.org_id, account.role,
                     account.name, account.department, generation=account.token_generation)
