"""Identity checks every service makes the same way: signed, expiring bearer tokens,
and the revocation state that can end one early.

The identity service issues tokens (``POST /api/auth/token``); every other service
verifies them with the shared secret, without a database round trip. The token names
the account, its organisation and its role, the account's token generation and the
token's own id; authorisation is deny-by-default: each view declares the roles it
admits with :func:`require`.

A token can end before it expires: its logout revokes its id; a password change, a role
change, disabling the account or an operator ending its sessions raises the account's
generation; a disabled account is refused whatever its tokens say. Every web process
checks each token against a *revocation state* it caches for at most
``NWS_AUTH_REFRESH`` seconds (default 30, never more than 60): fetched from the identity
service's tables when identity runs in the same process, else from identity's
``GET /api/auth/revocations`` (at ``NWS_IDENTITY_URL``) with a short-lived service token
signed with the shared secret. When no fresh state can be had for a minute, requests
with a token are answered 503 rather than trusted.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import secrets
import threading
import time
import urllib.request
from typing import Callable, Iterable, Mapping

import jwt
from flask import current_app, g, has_app_context, request

from shared.web import ApiError

log = logging.getLogger(__name__)

ROLES = ("applicant", "forwarder", "primary_reviewer", "secondary_reviewer", "operator")
# The roles that see an application because it was routed to their organisation.
REVIEWER_ROLES = ("forwarder", "primary_reviewer", "secondary_reviewer")
ISSUER = "nws-identity"
ALGORITHM = "HS256"
# Service-to-service calls (a web process fetching the revocation state from identity).
SERVICE_ISSUER = "nws-internal"
SERVICE_AUDIENCE = "nws-identity"
SERVICE_TOKEN_TTL = 60
# A revocation reaches every service within this many seconds, or the service refuses.
AUTH_STATE_MAX_AGE = 60.0


@dataclasses.dataclass(frozen=True)
class Principal:
    account_id: int
    login: str
    org_id: str
    role: str
    name: str
    department: str
    generation: int = 0                       # the account's token generation
    token_id: str = ""                        # the token's jti (for its logout)
    token_expires_at: dt.datetime | None = None

    def actor(self) -> dict:
        """The account as it travels in messages and history."""
        return {"org_id": self.org_id, "login": self.login, "name": self.name,
                "department": self.department}


def sees_routed(principal: Principal, routed_to: Iterable[str]) -> bool:
    """The one rule for who besides its owner sees an application under review: an
    operator, or a forwarder or reviewer whose organisation the application was routed
    to this round (``routed_to``: the organisations of its stages). Review applies it to
    its case; intake to the routes review reported (an application's attachments)."""
    return principal.role == "operator" or (
        principal.role in REVIEWER_ROLES and principal.org_id in set(routed_to))


def issue_token(principal: Principal, secret: str, ttl_seconds: int) -> tuple[str, dt.datetime]:
    now = dt.datetime.now(dt.timezone.utc)
    expires = now + dt.timedelta(seconds=ttl_seconds)
    claims = {"iss": ISSUER, "sub": str(principal.account_id), "login": principal.login,
              "org": principal.org_id, "role": principal.role, "name": principal.name,
              "dept": principal.department, "gen": principal.generation,
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": expires}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires


def _expired() -> ApiError:
    return ApiError(401, "token_expired", "トークンの有効期限が切れています。再度ログインしてください。")


def verify_token(token: str, secret: str) -> Principal:
    """The principal a token names, if its signature, issuer and expiry are right (the
    revocation state is checked separately: :func:`check_revocation`)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss", "jti"]})
    except jwt.ExpiredSignatureError:
        raise _expired()
    except jwt.InvalidTokenError:
        raise ApiError(401, "invalid_token", "トークンが正しくありません。")
    generation = claims.get("gen", 0)
    if claims.get("role") not in ROLES or not isinstance(generation, int):
        raise ApiError(401, "invalid_token", "トークンが正しくありません。")
    return Principal(int(claims["sub"]), claims["login"], claims["org"], claims["role"],
                     claims.get("name", ""), claims.get("dept", ""), generation=generation,
                     token_id=str(claims["jti"]),
                     token_expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.timezone.utc))


class VerifiedTokens:
    """Tokens whose signature and claims this process checked in the last ``seconds``,
    with the principal each names: a token sent again (every request of a client) is
    not decoded and verified again. Only the signature check is kept: the revocation
    state is checked on every request as before, and a token is refused from the moment
    it expires whatever is kept."""

    def __init__(self, seconds: float = 10.0, size: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        self._kept: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def principal(self, token: str, secret: str) -> Principal:
        now = self.clock()
        key = (token, secret)
        hit = self._kept.get(key)
        if hit is not None and now - hit[0] < self.seconds and hit[1].token_expires_at:
            if now >= hit[1].token_expires_at.timestamp():
                raise _expired()
            return hit[1]
        principal = verify_token(token, secret)          # raises for a bad or expired one
        with self._lock:
            if len(self._kept) >= self.size:
                for old in list(self._kept)[: self.size // 10 or 1]:
                    self._kept.pop(old, None)
            self._kept[key] = (now, principal)
        return principal


VERIFIED_TOKENS = "nws.verified_tokens"     # app extension: a VerifiedTokens


def verified_principal(token: str) -> Principal:
    """The principal a token names, verified against the current app's secret (kept a
    few seconds: :class:`VerifiedTokens`); the revocation state is not checked here."""
    secret = current_app.config["SECRET_KEY"]
    kept: VerifiedTokens | None = current_app.extensions.get(VERIFIED_TOKENS)
    if kept is None:
        return verify_token(token, secret)
    return kept.principal(token, secret)


# --- the revocation state ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AuthState:
    """What can end a token early, as published by the identity service."""

    accounts: Mapping[int, tuple[int, bool]]   # account id -> (generation, active)
    revoked: frozenset[str]                     # ids of tokens ended by their logout

    @classmethod
    def from_json(cls, data: Mapping) -> "AuthState":
        return cls({int(a["id"]): (int(a["generation"]), bool(a["active"]))
                    for a in data.get("accounts", ())},
                   frozenset(str(t) for t in data.get("revoked_tokens", ())))

    def refusal(self, principal: Principal) -> ApiError | None:
        """Why the state refuses the token ``principal`` was read from, or None."""
        if principal.token_id in self.revoked:
            return ApiError(401, "token_revoked",
                            "このトークンはログアウトにより無効になっています。再度ログインしてください。")
        generation, active = self.accounts.get(principal.account_id, (0, True))
        if not active:
            return ApiError(401, "account_disabled",
                            "このアカウントは無効化されています。運用管理者にお問い合わせください。")
        if principal.generation < generation:
            return ApiError(401, "token_revoked",
                            "アカウントの変更（パスワード、役割、有効・無効など）により、このトークンは"
                            "無効になりました。再度ログインしてください。")
        return None


class AuthStateCache:
    """The revocation state of one web process, fetched again every ``refresh_seconds``
    (0: on every request). When a fetch fails, the last state serves until it is
    ``max_age`` old; after that, requests with a token get 503."""

    def __init__(self, fetch: Callable[[], Mapping], refresh_seconds: float, *,
                 max_age: float = AUTH_STATE_MAX_AGE, source: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.fetch = fetch
        self.refresh_seconds = min(refresh_seconds, max_age)
        self.max_age = max_age
        self.source = source
        self.clock = clock
        self._lock = threading.Lock()
        self._state: AuthState | None = None
        self._fetched_at = float("-inf")
        self._wanted = 0       # bumped by invalidate(): the next call fetches again
        self._have = 0

    def invalidate(self) -> None:
        """Something changed here (a logout, an operator's change): fetch on next use."""
        self._wanted += 1

    def _fresh(self, now: float) -> bool:
        return (self._state is not None and self._have == self._wanted
                and now - self._fetched_at < self.refresh_seconds)

    def current(self) -> AuthState:
        now = self.clock()
        if self._fresh(now):
            return self._state
        usable = self._state is not None and now - self._fetched_at < self.max_age
        # One thread fetches; the others keep using a still usable state meanwhile.
        if self._lock.acquire(blocking=not usable):
            try:
                if not self._fresh(self.clock()):
                    wanted, started = self._wanted, self.clock()
                    try:
                        state = AuthState.from_json(self.fetch())
                    except Exception as exc:  # noqa: BLE001 - keep serving, within bounds
                        log.warning("revocation state not fetched from %s: %s: %s",
                                    self.source or "identity", type(exc).__name__, exc)
                    else:
                        self._state, self._fetched_at, self._have = state, started, wanted
            finally:
                self._lock.release()
        if self._state is not None and self.clock() - self._fetched_at < self.max_age:
            return self._state
        raise ApiError(503, "auth_unavailable",
                       "認証情報を確認できません。しばらくしてから再度お試しください。")

    def check(self, principal: Principal) -> None:
        refusal = self.current().refusal(principal)
        if refusal is not None:
            raise refusal


def check_revocation(principal: Principal) -> None:
    """Refuse (401) a revoked token or a disabled account, against the current app's
    revocation state; 503 when no fresh state can be had."""
    cache: AuthStateCache | None = current_app.extensions.get("nws.auth_state")
    if cache is None:
        raise RuntimeError("no revocation state: build the app with nws.app.create_app")
    cache.check(principal)


def revocation_changed() -> None:
    """Identity changed the revocation state: this process fetches it on next use."""
    if has_app_context():
        cache = current_app.extensions.get("nws.auth_state")
        if cache is not None:
            cache.invalidate()


def issue_service_token(secret: str, caller: str, ttl_seconds: int = SERVICE_TOKEN_TTL) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return jwt.encode({"iss": SERVICE_ISSUER, "aud": SERVICE_AUDIENCE, "sub": caller,
                       "iat": now, "exp": now + dt.timedelta(seconds=ttl_seconds)},
                      secret, algorithm=ALGORITHM)


def remote_auth_state(identity_url: str, secret: str, caller: str,
                      timeout: float = 5.0) -> Callable[[], Mapping]:
    """A fetch of the revocation state from identity's API (no proxy from the
    environment: the call stays inside the deployment)."""
    url = identity_url.rstrip("/") + "/api/auth/revocations"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def fetch() -> Mapping:
        req = urllib.request.Request(url, headers={
            "Authorization": f"Bearer {issue_service_token(secret, caller)}",
            "Accept": "application/json"})
        with opener.open(req, timeout=timeout) as res:
            return json.loads(res.read())

    return fetch


def require_service(view):
    """A view for the suite's own processes only (a service token, not an account's)."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated", "認証が必要です。")
        try:
            jwt.decode(token.strip(), current_app.config["SECRET_KEY"], algorithms=[ALGORITHM],
                       issuer=SERVICE_ISSUER, audience=SERVICE_AUDIENCE,
                       options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.InvalidTokenError:
            raise ApiError(401, "invalid_token", "トークンが正しくありません。") from None
        return view(*args, **kwargs)

    wrapper.nws_auth = ("service",)  # type: ignore[attr-defined]
    return wrapper


# --- views -----------------------------------------------------------------------------

def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated",
                           "認証が必要です。Authorization: Bearer トークンを付けてください。")
        principal = verified_principal(token.strip())
        check_revocation(principal)
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
