"""What operators do to accounts (the API under /api/auth/accounts, the account pages
under /auth/accounts and ``nws users``): list and search, create, disable and enable,
change the role, set a new password or send a one-time link that sets one, end every
session, lift a login lock. Each change that takes rights away ends the account's tokens on every
service (services.identity.sessions). Every change is recorded in the audit log (by
the operator of the request, or the ``nws users`` command's user)."""
from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, object_session

from shared import audit, listing
from shared.auth import ROLES
from shared.db import utcnow
from shared.messaging import ServiceContext
from shared.pages import ROLE_LABELS
from shared.web import not_found
from services.identity import notifications, organisations, sessions, throttle
from services.identity.accounts import AccountError, _hasher, check_password, create_account
from services.identity.models import (Account, Activation, AuditLog, KnownOrganisation,
                                      LoginThrottle)

PASSWORD_LINK_TTL = dt.timedelta(days=3)

log = logging.getLogger(__name__)


class UnknownAccount(AccountError):
    pass


def find(session: Session, login: str) -> Account:
    account = session.scalar(select(Account).where(Account.login == login))
    if account is None:
        raise UnknownAccount(f"ログイン名 {login} のアカウントはありません。")
    return account


def account(session: Session, login: str) -> Account:
    """The account ``login`` names; 404 when there is none (the API's and the pages')."""
    try:
        return find(session, login)
    except UnknownAccount:
        raise not_found("アカウント") from None


OWN_ACCOUNT = "自分自身のアカウントの無効化や役割の変更はできません。"


def own_account_refusal(account: Account, actor_account_id: int | None) -> str | None:
    """Why the operator ``actor_account_id`` may not disable ``account`` or change its
    role (it is their own), None when they may."""
    return OWN_ACCOUNT if account.id == actor_account_id else None


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
        raise AccountError(f"役割は {', '.join(ROLES)} のいずれかです。", "role")
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


# --- the list of accounts (API, page) -----------------------------------------------

STATES = {"active": "有効", "disabled": "無効"}
SORTS = {
    "login": ("ログイン名", Account.login),
    "name": ("氏名", Account.name),
    "org": ("機関コード", Account.org_id),
    "org_name": ("機関名", KnownOrganisation.name),
    "role": ("役割", Account.role),
    "active": ("状態", Account.active),
    "last_login": ("最終ログイン", Account.last_login_at),
    "created": ("作成日時", Account.created_at),
}
LABELS = {**listing.COMMON_LABELS, "role": "役割", "state": "状態"}


@dataclass(frozen=True)
class AccountQuery(listing.ListQuery):
    role: str = ""
    state: str = ""
    sort: str = "login"


def parse_query(args: Mapping[str, str]) -> tuple[AccountQuery, list[str]]:
    """A list query from request arguments, and what is wrong with them (Japanese)."""
    get, common, problems = listing.read(args, LABELS, SORTS, "login")
    return AccountQuery(role=listing.choice(get["role"], "role", LABELS["role"], ROLES,
                                            problems),
                        state=listing.choice(get["state"], "state", LABELS["state"], STATES,
                                             problems),
                        **common), problems


def _conditions(query: AccountQuery) -> list:
    where = []
    if query.role:
        where.append(Account.role == query.role)
    if query.state:
        where.append(Account.active.is_(query.state == "active"))
    if query.q:
        pattern = listing.like(query.q)
        where.append(or_(func.lower(Account.login).like(pattern, escape="\\"),
                         func.lower(Account.name).like(pattern, escape="\\"),
                         func.lower(Account.org_id).like(pattern, escape="\\"),
                         func.lower(KnownOrganisation.name).like(pattern, escape="\\")))
    return where


def _item(account: Account, org_name: str | None) -> dict:
    return {"login": account.login, "name": account.name, "department": account.department,
            "org": account.org_id, "org_name": org_name, "role": account.role,
            "role_name": ROLE_LABELS.get(account.role, account.role),
            "active": account.active, "password_set": bool(account.password_hash),
            "email": account.email,
            "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
            "created_at": account.created_at.isoformat()}


def search(session: Session, query: AccountQuery) -> listing.Page:
    """One page of the accounts matching ``query`` (search by part of the login, the
    name, the organisation's code or name), and how many match in all."""
    base = (select(Account, KnownOrganisation.name)
            .outerjoin(KnownOrganisation, KnownOrganisation.id == Account.org_id)
            .where(*_conditions(query)))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    stmt = listing.ordered(base, SORTS[query.sort][1], Account.id, query.order)
    items = [_item(a, name) for a, name in session.execute(listing.paged(stmt, query))]
    return listing.Page(items=items, total=total, query=query)


def create(session: Session, *, login: str, password: str, org_id: str, role: str,
           name: str = "", department: str = "", email: str | None = None) -> Account:
    """An account made by an operator (page, API): the organisation must be in intake's
    registry (once identity has its directory), then as ``nws users add``."""
    org_id = org_id.strip()
    if organisations.is_known(session, org_id) is False:
        raise AccountError(f"機関コード {org_id[:40]} の機関は機関マスタにありません。"
                           "機関コード（例: 131016、教育委員会は 131016-BOE）を確認してください。",
                           "org")
    return create_account(session, login=login.strip(), password=password, org_id=org_id,
                          role=role, name=name.strip(), department=department.strip(),
                          email=email)


def account_view(session: Session, account: Account) -> dict:
    """What the account page shows: the state (describe), the organisation's name, the
    role's Japanese name, the one-time link waiting to be used, if any."""
    view = describe(session, account)
    view["org_name"] = organisations.names_of(session, [account.org_id]).get(account.org_id)
    view["role_name"] = ROLE_LABELS.get(account.role, account.role)
    view["email"] = account.email
    view["password_set"] = bool(account.password_hash)
    link = session.scalar(select(Activation).where(
        Activation.account_id == account.id, Activation.used_at.is_(None),
        Activation.expires_at > utcnow()).order_by(Activation.id.desc()).limit(1))
    view["open_link"] = ({"purpose": link.purpose, "expires_at": link.expires_at.isoformat()}
                         if link is not None else None)
    return view


def history(session: Session, account: Account, limit: int = 50) -> list[dict]:
    """The account's entries of identity's audit log, newest first."""
    rows, _more = audit.query(session, AuditLog, audit.Filters(
        target=f"account:{account.login}", limit=limit))
    return rows


def issue_password_link(ctx: ServiceContext, session: Session,
                        account: Account) -> tuple[str, dt.datetime, bool]:
    """A one-time link that sets the account's password (the activation page takes its
    token), valid for PASSWORD_LINK_TTL; any earlier unused link of the account stops
    working. For an issued account not yet activated it is a new activation link. The
    token is returned once (for the operator to pass on) and mailed to the account's
    address if it has one; only its hash is stored. Returns (token, expiry, mailed)."""
    from services.identity.activation import token_hash

    if not account.active and account.password_hash:
        raise AccountError("無効にされたアカウントです。先に有効にしてください。")
    now = utcnow()
    session.execute(update(Activation).where(
        Activation.account_id == account.id, Activation.used_at.is_(None),
        Activation.expires_at > now).values(expires_at=now))
    token = secrets.token_urlsafe(32)
    expires = now + PASSWORD_LINK_TTL
    session.add(Activation(account_id=account.id, request_id=None, purpose="reset",
                           token_hash=token_hash(token), expires_at=expires))
    mailed = notifications.deliver_secret(
        ctx, session, account, "password_link",
        "【パスワード再設定】情報共有サイトのパスワードを設定してください",
        "運用管理者が、このアカウントのパスワードを設定するための一回限りのリンクを発行しました。"
        "メールに記載のトークンを、有効化のページに入力してパスワードを設定してください。",
        [f"ログイン名: {account.login}", f"トークン: {token}",
         f"有効期限: {expires.astimezone(dt.timezone(dt.timedelta(hours=9))):%Y/%m/%d %H:%M}（日本時間）"])
    _record(account, "account.password_link_issued",
            {"expires_at": expires.isoformat(), "mailed": mailed})
    return token, expires, mailed
