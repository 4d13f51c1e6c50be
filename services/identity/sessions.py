"""Ending sessions and tokens, and the revocation state every service checks.

Tokens are signed and verified without a database; what can end one early is kept
here and published as a small *revocation state* (:func:`snapshot`) that every web
process fetches and caches for at most a minute (``shared.auth.AuthStateCache``):

- a logout revokes that one token (by its ``jti``) until it would have expired;
- a password change, a role change, disabling the account or an operator ending its
  sessions raises the account's token generation: every token issued before is
  refused;
- a disabled account is listed as such, so its tokens are refused whatever their
  generation.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shared import audit
from shared.auth import Principal
from shared.db import utcnow
from shared.messaging import ServiceContext
from services.identity.models import Account, RevokedToken

# An account stays in the state this long after its generation changed: by then every
# token of an older generation has expired (tokens live NWS_TOKEN_TTL at most).
MARGIN = dt.timedelta(minutes=5)


def end_all(account: Account, now: dt.datetime | None = None) -> None:
    """End every session and token of ``account`` (on every service within the
    refresh bound): tokens issued before carry an older generation."""
    account.token_generation = (account.token_generation or 0) + 1
    account.sessions_ended_at = now or utcnow()


def revoke_token(session: Session, principal: Principal) -> None:
    """Revoke the one token ``principal`` was read from (a logout)."""
    now = utcnow()
    if not principal.token_id:
        return
    audit.record(session, "logout", f"account:{principal.login}", actor=principal,
                 subject_org=principal.org_id)
    if session.get(RevokedToken, principal.token_id) is None:
        expires = principal.token_expires_at or now + dt.timedelta(days=1)
        session.add(RevokedToken(token_id=principal.token_id,
                                 account_id=principal.account_id, expires_at=expires,
                                 revoked_at=now))
    # Tokens past their expiry are refused anyway: forget them.
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now - MARGIN))


def snapshot(ctx: ServiceContext) -> dict:
    """The revocation state: disabled accounts, accounts whose generation changed within
    the token lifetime, and revoked tokens that have not expired yet."""
    now = utcnow()
    recent = now - dt.timedelta(seconds=ctx.settings.token_ttl_seconds) - MARGIN
    with ctx.transaction() as session:
        accounts = session.execute(
            select(Account.id, Account.token_generation, Account.active)
            .where(or_(Account.active.is_(False), Account.sessions_ended_at >= recent))
            .order_by(Account.id)).all()
        tokens = session.scalars(select(RevokedToken.token_id)
                                 .where(RevokedToken.expires_at >= now)
                                 .order_by(RevokedToken.token_id)).all()
    return {"as_of": now.isoformat(),
            "accounts": [{"id": i, "generation": g, "active": bool(a)} for i, g, a in accounts],
            "revoked_tokens": list(tokens)}
