"""Identity checks every service makes the same way: signed, expiring bearer tokens.

The identity service issues tokens (``POST /api/auth/token``); every other service
verifies them with the shared secret, without a database round trip. The token names
the account, its organisation and its role; authorisation is deny-by-default: each
view declares the roles it admits with :func:`require`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from typing import Callable, Iterable

import jwt
from flask import current_app, g, request

from shared.web import ApiError

ROLES = ("applicant", "forwarder", "primary_reviewer", "secondary_reviewer", "operator")
ISSUER = "nws-identity"
ALGORITHM = "HS256"


@dataclasses.dataclass(frozen=True)
class Principal:
    account_id: int
    login: str
    org_id: str
    role: str
    name: str
    department: str

    def actor(self) -> dict:
        """The account as it travels in messages and history."""
        return {"org_id": self.org_id, "login": self.login, "name": self.name,
                "department": self.department}


def issue_token(principal: Principal, secret: str, ttl_seconds: int) -> tuple[str, dt.datetime]:
    now = dt.datetime.now(dt.timezone.utc)
    expires = now + dt.timedelta(seconds=ttl_seconds)
    claims = {"iss": ISSUER, "sub": str(principal.account_id), "login": principal.login,
              "org": principal.org_id, "role": principal.role, "name": principal.name,
              "dept": principal.department, "iat": now, "exp": expires}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


def verify_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "トークンの有効期限が切れています。再度ログインしてください。")
    except jwt.InvalidTokenError:
        raise ApiError(401, "invalid_token", "トークンが正しくありません。")
    if claims.get("role") not in ROLES:
        raise ApiError(401, "invalid_token", "トークンが正しくありません。")
    return Principal(int(claims["sub"]), claims["login"], claims["org"], claims["role"],
                     claims.get("name", ""), claims.get("dept", ""))


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated",
                           "認証が必要です。Authorization: Bearer トークンを付けてください。")
        principal = verify_token(token.strip(), current_app.config["SECRET_KEY"])
        g.principal = principal
    return principal


def require(*roles: str) -> Callable:
    """Admit only authenticated accounts with one of ``roles`` (all roles if none)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if roles and principal.role not in roles:
                raise ApiError(403, "forbidden", "この操作を行う権限がありません。")
            return view(*args, **kwargs)

        wrapper.nws_auth = roles or ROLES  # type: ignore[attr-defined]
        return wrapper

    return decorate


def public(view):
    """Mark a view that needs no token (login, health)."""
    view.nws_public = True  # type: ignore[attr-defined]
    return view


def check_every_view_declares_access(app, allowed_public: Iterable[str] = ()) -> list[str]:
    """Endpoints under /api with neither @require nor @public (should be none)."""
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        if not (getattr(view, "nws_auth", None) or getattr(view, "nws_public", False)):
            missing.append(rule.endpoint)
    return missing
