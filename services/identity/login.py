"""Password login with throttling and an audit record, for the API, the login page and
the password change: the throttle is asked first, the argon2 hash is computed only for
an attempt it lets through, and every outcome is written to ``identity_login_audit``."""
from __future__ import annotations

import dataclasses
import logging
import math
import threading

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import audit as shared_audit
from shared.auth import Principal
from shared.db import utcnow
from shared.messaging import ServiceContext
from shared.observability import metrics
from shared.web import ApiError
from services.identity import throttle
from services.identity.accounts import _DUMMY_HASH, _hasher, principal_of
from services.identity.models import Account, LoginAudit

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "ログイン名またはパスワードが正しくありません。"
LOGIN_BUSY = "ログインが混み合っています。数秒待ってから再度お試しください。"

_gates: dict[int, threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()

def _login_slots(settings) -> threading.BoundedSemaphore:
    """The process's login slots (``NWS_LOGIN_SLOTS``): a login attempt holds one from
    its throttle check to its audit record, argon2 hash included. A flood of attempts
    that no per-key counter stops (every one from a new address, for a new login) so
    takes at most these threads and cores; the attempts beyond are refused at once (503,
    ``Retry-After``), and the rest of the process and of the machine keep serving."""
    with _gates_lock:
        gate = _gates.get(settings.login_slots)
        if gate is None:
            gate = _gates[settings.login_slots] = threading.BoundedSemaphore(
                settings.login_slots)
        return gate


class Throttled(ApiError):
    """429 with Retry-After and a Japanese message saying how long to wait."""

    def __init__(self, refused: throttle.Refused) -> None:
        self.retry_after = refused.retry_after
        if refused.locked:
            minutes = max(1, math.ceil(refused.retry_after / 60))
            where = ("このログイン名" if refused.scope == "account" else "この接続元")
            super().__init__(429, "login_locked",
                             f"ログインの失敗が続いたため、{where}からのログインを一時的に停止して"
                             f"います。約 {minutes} 分後に再度お試しください。",
                             headers={"Retry-After": str(self.retry_after)},
                             retry_after=self.retry_after)
        else:
            super().__init__(429, "login_delayed",
                             f"ログインの失敗が続いています。{self.retry_after} 秒後に再度お試し"
                             "ください。", headers={"Retry-After": str(self.retry_after)},
                             retry_after=self.retry_after)


def policies(ctx: ServiceContext) -> tuple[throttle.Policy, throttle.Policy]:
    s = ctx.settings
    return (throttle.Policy(s.login_lock_after, s.login_lock_seconds),
            throttle.Policy(s.login_address_lock_after, s.login_lock_seconds))


def audit(session: Session, *, login: str, outcome: str, address: str, channel: str,
          account_id: int | None = None, at=None, account: Account | None = None) -> None:
    """Write the attempt to ``identity_login_audit`` (the login history the throttle
    tests and operators read) and to the chained audit log (``login.succeeded`` by the
    account, ``login.failed`` by an anonymous caller naming ``login``)."""
    session.add(LoginAudit(login=login[:100], outcome=outcome, address=address[:64],
                           channel=channel, account_id=account_id, at=at or utcnow()))
    if outcome == "success" and account is not None:
        actor = shared_audit.Actor(account.login, account.role, account.org_id)
    else:
        actor = shared_audit.Actor(login, "anonymous", "")
    shared_audit.record(session, "login.succeeded" if outcome == "success" else "login.failed",
                        f"account:{login}", {"outcome": outcome, "channel": channel},
                        actor=actor, address=address,
                        subject_org=account.org_id if account is not None else None)


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    id: int
    password_hash: str
    active: bool


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False


def attempt(ctx: ServiceContext, login: str, password: str, *, address: str,
            channel: str) -> Principal:
    """Log in, or raise :class:`Throttled` (429), 503 (every login slot of the process
    busy) or a 401 ApiError."""
    gate = _login_slots(ctx.settings)
    if not gate.acquire(timeout=ctx.settings.login_slot_wait):
        # Refused before any database work or hash: a flood, most likely. Not in the
        # audit table (nothing was tried); logged and counted.
        log.warning("login refused: every login slot of this process is busy",
                    extra={"login_address": address})
        metrics().logins_refused.labels("busy").inc()
        raise ApiError(503, "login_busy", LOGIN_BUSY, headers={"Retry-After": "2"},
                       retry_after=2)
    try:
        return _attempt(ctx, login, password, address=address, channel=channel)
    finally:
        gate.release()


def _attempt(ctx: ServiceContext, login: str, password: str, *, address: str,
             channel: str) -> Principal:
    account_policy, address_policy = policies(ctx)
    keys = [("account", throttle.account_key(login), account_policy),
            ("address", throttle.address_key(address), address_policy)]
    now = utcnow()
    with ctx.transaction() as session:
        reservation = throttle.blocked(session, now, keys) or throttle.reserve(
            session, now, keys)
        if isinstance(reservation, throttle.Refused):
            audit(session, login=login, outcome="throttled", address=address,
                  channel=channel, at=now)
            refused = reservation
        else:
            refused = None
            account = session.scalar(select(Account).where(Account.login == login))
            found = (_Snapshot(account.id, account.password_hash, account.active)
                     if account is not None else None)
    if refused is not None:
        log.info("login refused by the throttle", extra={"scope": refused.scope})
        metrics().logins_refused.labels("throttled").inc()
        raise Throttled(refused)

    # The hash is computed outside any transaction: no lock is held meanwhile.
    ok = _verify(found.password_hash if found else None, password)

    with ctx.transaction() as session:
        if found is None:
            outcome = "unknown_login"
        elif not ok:
            outcome = "wrong_password"
        elif not found.active:
            outcome = "inactive"
        else:
            outcome = "success"
        audit(session, login=login, outcome=outcome, address=address, channel=channel,
              account_id=found.id if found else None,
              account=session.get(Account, found.id) if found else None)
        if outcome != "success":
            principal = None
        else:
            throttle.succeeded(session, reservation, reset={throttle.account_key(login)})
            throttle.prune(session, now)
            account = session.get(Account, found.id)
            if _hasher.check_needs_rehash(account.password_hash):
                account.password_hash = _hasher.hash(password)
            account.last_login_at = utcnow()
            principal = principal_of(account)
    if principal is None:
        raise ApiError(401, "invalid_credentials", BAD_CREDENTIALS)
    return principal


def check_current_password(ctx: ServiceContext, account_id: int, password: str, *,
                           address: str) -> None:
    """The caller's current password, before a change: throttled and audited like a
    login (a stolen session must not become a way to guess the password)."""
    with ctx.transaction() as session:
        login = session.get(Account, account_id).login
    try:
        attempt(ctx, login, password, address=address, channel="password_change")
    except Throttled:
        raise
    except ApiError:
        raise ApiError(403, "wrong_password", "現在のパスワードが正しくありません。") from None
