"""Accounts issued on an approved アカウント発行申請: created without a password, with a
one-time activation link (token stored hashed, valid for ACTIVATION_TTL) that sets the
password."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import audit
from shared.db import utcnow
from shared.messaging import ServiceContext
from shared.web import ApiError
from services.identity.accounts import LOGIN, _hasher, check_password
from services.identity import notifications, sessions
from services.identity.models import Account, Activation
from services.identity.notifications import check_email

ACTIVATION_TTL = dt.timedelta(days=7)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _free_login(session: Session, wanted: str) -> str:
    taken = set(session.scalars(select(Account.login).where(Account.login.like(f"{wanted}%"))))
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


# The login of a further account issued on one request: the requested login and this.
LOGIN_SUFFIX = {"forwarder": "-keiyu"}


def issue(ctx: ServiceContext, session: Session, payload: dict) -> None:
    """Create the accounts of an approved request (once per request): one per role of
    ``roles`` (``role`` alone without it), each with its activation link, and send
    intake their activation tokens for the requester's receipt."""
    if session.scalar(select(Activation.id).where(
            Activation.request_id == payload["request_id"]).limit(1)) is not None:
        return
    wanted = payload["login"] if LOGIN.match(payload["login"]) else payload["org"]["id"].lower()
    roles = list(dict.fromkeys(payload.get("roles") or [payload["role"]]))
    try:
        email = check_email(payload.get("email"))
    except ApiError:
        email = None        # intake checked it; an odd one is not kept
    issued = []
    for n, role in enumerate(roles):
        login = wanted if n == 0 else f"{wanted[:90]}{LOGIN_SUFFIX.get(role, '-' + role[:8])}"
        issued.append(_issue_one(ctx, session, payload, _free_login(session, login), role,
                                 email))
    first = issued[0]
    ctx.emit(session, "intake", "account.issued", {
        "request_id": payload["request_id"], "login": first["login"],
        "activation_token": first["activation_token"], "expires_at": first["expires_at"],
        "accounts": issued})


def _issue_one(ctx: ServiceContext, session: Session, payload: dict, login: str,
               role: str, email: str | None) -> dict:
    account = Account(login=login, password_hash="", org_id=payload["org"]["id"], role=role,
                      name=payload["name"], department=payload.get("department", ""),
                      active=False, email=email)
    session.add(account)
    session.flush()
    token = secrets.token_urlsafe(32)
    expires = utcnow() + ACTIVATION_TTL
    session.add(Activation(account_id=account.id, request_id=payload["request_id"],
                           purpose="issued", token_hash=token_hash(token),
                           expires_at=expires))
    audit.record(session, "account.issued", f"account:{account.login}",
                 {"request_id": payload["request_id"], "number": payload.get("number"),
                  "role": account.role}, subject_org=account.org_id)
    notifications.deliver(ctx, session, account, {
        "kind": "account_issued", "org_id": account.org_id,
        "org_name": payload["org"]["name"], "number": payload.get("number"),
        "link": "/auth/activate"})
    return {"login": account.login, "role": role, "activation_token": token,
            "expires_at": expires.isoformat()}


def activate(session: Session, token: str, password: str) -> Account:
    """Set the password through a one-time link. Unknown, used or expired links change
    nothing."""
    activation = session.scalar(select(Activation).where(
        Activation.token_hash == token_hash(token)))
    if activation is None:
        raise ApiError(404, "unknown_activation",
                       "有効化リンクが正しくありません。受付票に表示されたリンクを確認してください。")
    if activation.used_at is not None:
        raise ApiError(409, "activation_used", "この有効化リンクは既に使用されています。")
    if activation.expires_at <= utcnow():
        raise ApiError(410, "activation_expired",
                       "この有効化リンクは有効期限が切れています。運営主体にお問い合わせください。")
    account = session.get(Account, activation.account_id)
    check_password(password, account.login)
    used = session.execute(update(Activation).where(
        Activation.id == activation.id, Activation.used_at.is_(None)).values(used_at=utcnow()))
    if used.rowcount != 1:  # a concurrent activation won
        raise ApiError(409, "activation_used", "この有効化リンクは既に使用されています。")
    first = not account.password_hash
    account.password_hash = _hasher.hash(password)
    if first:
        # an issued account (or one whose first link an operator sent again) starts;
        # an operator's reset link never re-enables an account the operator disabled
        account.active = True
    else:
        sessions.end_all(account)
    audit.record(session, "account.activated" if first else "account.password_reset",
                 f"account:{account.login}",
                 {"link": activation.purpose},
                 actor=audit.Actor(account.login, account.role, account.org_id),
                 subject_org=account.org_id)
    return account
