"""What operators do to accounts (API under /api/auth/accounts and ``nws users``):
disable and enable, change the role, set a new password, end every session, lift a
login lock. Each change that takes rights away ends the account's tokens on every
service (services.identity.sessions). Every change is recorded in the audit log (by
the operator of the request, or the ``nws users`` command's user)."""
from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from shared import audit
from shared.auth import ROLES
from shared.db import utcnow
from services.identity import sessions, throttle
from services.identity.accounts import AccountError, _hasher, check_password
from services.identity.models import Account, Activation, LoginThrottle

log = logging.getLogger(__name__)


class UnknownAccount(AccountError):
    pass


def find(session: Session, login: str) -> Account:
    account = session.scalar(select(Account).where(Account.login == login))
    if account is None:
        raise UnknownAccount(f"ログイン名 {login} のアカウントはありません。")
    return account


def set_active(account: Account, active: bool) -> bool:
    """Enable or disable; disabling ends every token, and cancels an activation link
    not used yet (an issued account the operator stops before it is activated). Whether
    anything changed."""
    if not active and _cancel_activation(account):
        sessions.end_all(account)
        account.active = False
        _record(account, "account.disabled", {"activation_cancelled": True})
        return True
    if account.active == active:
        return False
    if not active:
        sessions.end_all(account)
    elif not account.password_hash:
        raise AccountError("パスワードが未設定のアカウント（有効化リンクの使用前）は有効にできません。")
    account.active = active
    log.info("account %s", "enabled" if active else "disabled", extra={"account_id": account.id})
    _record(account, "account.enabled" if active else "account.disabled")
    return True


def _record(account: Account, action: str, detail: dict | None = None) -> None:
    audit.record(object_session(account), action, f"account:{account.login}", detail,
                 subject_org=account.org_id)


def _cancel_activation(account: Account) -> bool:
    session = object_session(account)
    now = utcnow()
    return session.execute(update(Activation).where(
        Activation.account_id == account.id, Activation.used_at.is_(None),
        Activation.expires_at > now).values(expires_at=now)).rowcount > 0


def set_role(account: Account, role: str) -> bool:
    """Change the role; ends every token (they name the old role)."""
    if role not in ROLES:
        raise AccountError(f"役割は {', '.join(ROLES)} のいずれかです。")
    if account.role == role:
        return False
    previous, account.role = account.role, role
    sessions.end_all(account)
    log.info("account role changed", extra={"account_id": account.id})
    _record(account, "account.role_changed", {"from": previous, "to": role})
    return True


def set_password(account: Account, password: str, *, own: bool = False) -> None:
    """A new password (policy-checked); ends every token. ``own``: the account's holder
    changes it (``password.changed``), else an operator sets it."""
    check_password(password, account.login)
    account.password_hash = _hasher.hash(password)
    sessions.end_all(account)
    log.info("account password changed", extra={"account_id": account.id})
    _record(account, "password.changed" if own else "account.password_set")


def end_sessions(account: Account) -> None:
    sessions.end_all(account)
    log.info("account sessions ended", extra={"account_id": account.id})
    _record(account, "account.sessions_ended")


def unlock(session: Session, login: str) -> bool:
    """Forget the login name's failed logins (not the addresses')."""
    done = throttle.unlock(session, throttle.account_key(login))
    if done:
        account = session.scalar(select(Account).where(Account.login == login))
        audit.record(session, "account.unlocked", f"account:{login}",
                     subject_org=account.org_id if account is not None else None)
    return done


def describe(session: Session, account: Account) -> dict:
    row = session.get(LoginThrottle, throttle.account_key(account.login))
    return {"login": account.login, "org": account.org_id, "role": account.role,
            "name": account.name, "department": account.department,
            "active": account.active,
            "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
            "sessions_ended_at": (account.sessions_ended_at.isoformat()
                                  if account.sessions_ended_at else None),
            "failed_logins": row.failures if row else 0,
            "login_blocked_until": (row.blocked_until.isoformat()
                                    if row and row.blocked_until else None)}
