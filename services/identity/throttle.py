"""Login throttling: consecutive failed logins counted per login name and per client
address in identity's database, so every web process of identity sees the same counts.

A key that must still wait is refused by a plain read (:func:`blocked`): no row lock,
so a flood against one locked key costs one indexed SELECT per attempt and never queues
behind itself. Any other attempt first *reserves* itself — in a short transaction that locks the counters,
before any password hash is computed: a key still waiting refuses the attempt at once
(HTTP 429, ``Retry-After``), which costs one database round trip and no argon2; an
attempt that may go ahead counts as a failure in advance, and sets the wait that failure
earns, so concurrent attempts on one key cannot all slip past the check while the hashes
are being computed. A successful login then resets its account's counter and takes back
its own advance on the address's counter.

The waits, after the n-th consecutive failure of a key with lock threshold L:

    n ≤ L-7        no wait
    L-6 … L-1      2, 4, 8, 16, 32, 64 seconds (never above the lock)
    n ≥ L          the lock: ``lock_seconds`` (default 900), again after each failure

Failures are forgotten after a day without one (:data:`FORGET_AFTER`; such rows are
deleted on each successful login, :func:`prune`), or by an operator (``nws users
unlock``).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.identity.models import LoginThrottle

FORGET_AFTER = dt.timedelta(days=1)
DELAY_STEPS = 6      # growing waits before the lock: 2, 4, … 64 seconds


@dataclasses.dataclass(frozen=True)
class Policy:
    lock_after: int
    lock_seconds: int

    def wait_after(self, failures: int) -> int:
        """Seconds to wait after the ``failures``-th consecutive failure."""
        if failures >= self.lock_after:
            return self.lock_seconds
        step = failures - (self.lock_after - 1 - DELAY_STEPS)
        return 0 if step <= 0 else min(2 ** step, self.lock_seconds)

    def locks(self, failures: int) -> bool:
        return failures >= self.lock_after


@dataclasses.dataclass(frozen=True)
class Refused:
    """The attempt may not go ahead: ``retry_after`` seconds to wait."""

    retry_after: int
    locked: bool          # the lock (else one of the growing delays)
    scope: str            # "account" or "address": the key that refused


@dataclasses.dataclass(frozen=True)
class Advance:
    """What a reservation changed on one key, to take it back."""

    key: str
    failures: int
    last_failure_at: dt.datetime | None
    blocked_until: dt.datetime | None
    set_blocked_until: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class Reservation:
    advances: tuple[Advance, ...]


def account_key(login: str) -> str:
    return f"account:{login[:100]}"


def address_key(address: str) -> str:
    return f"address:{address[:64]}"


def _locked_row(session: Session, key: str) -> LoginThrottle:
    """The counter of ``key``, created if missing, locked until the transaction ends
    (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already admits one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(LoginThrottle).values(key=key, failures=0)
                    .on_conflict_do_nothing(index_elements=["key"]))
    return session.scalar(select(LoginThrottle).where(LoginThrottle.key == key)
                          .with_for_update().execution_options(populate_existing=True))


def blocked(session: Session, now: dt.datetime,
            keys: list[tuple[str, str, Policy]]) -> Refused | None:
    """The refusal of an attempt whose key must still wait, read without locking
    anything (:func:`reserve` decides, under the lock, for the others)."""
    scopes = {key: (scope, policy) for scope, key, policy in keys}
    rows = session.execute(select(LoginThrottle.key, LoginThrottle.blocked_until,
                                  LoginThrottle.failures).where(
        LoginThrottle.key.in_(scopes), LoginThrottle.blocked_until > now)).all()
    if not rows:
        return None
    key, until, failures = max(rows, key=lambda r: r.blocked_until)
    scope, policy = scopes[key]
    seconds = math.ceil((until - now).total_seconds())
    return Refused(max(seconds, 1), policy.locks(failures), scope)


def reserve(session: Session, now: dt.datetime,
            keys: list[tuple[str, str, Policy]]) -> Reservation | Refused:
    """Reserve one attempt on every (scope, key, policy), or refuse it if any key must
    still wait. Call in its own transaction, committed before the password is checked."""
    rows = []
    for scope, key, policy in sorted(keys, key=lambda k: k[1]):   # one lock order
        row = _locked_row(session, key)
        if row.last_failure_at is not None and now - row.last_failure_at > FORGET_AFTER:
            row.failures, row.last_failure_at, row.blocked_until = 0, None, None
        rows.append((scope, row, policy))
    waiting = [(scope, row, policy) for scope, row, policy in rows
               if row.blocked_until is not None and row.blocked_until > now]
    if waiting:
        scope, row, policy = max(waiting, key=lambda w: w[1].blocked_until)
        seconds = math.ceil((row.blocked_until - now).total_seconds())
        return Refused(max(seconds, 1), policy.locks(row.failures), scope)
    advances = []
    for _scope, row, policy in rows:
        before = (row.failures, row.last_failure_at, row.blocked_until)
        row.failures += 1
        row.last_failure_at = now
        wait = policy.wait_after(row.failures)
        row.blocked_until = now + dt.timedelta(seconds=wait) if wait else None
        advances.append(Advance(row.key, *before, row.blocked_until))
    return Reservation(tuple(advances))


def succeeded(session: Session, reservation: Reservation, reset: set[str]) -> None:
    """The reserved attempt succeeded: keys in ``reset`` (the account's) start again
    from zero; on the others (the address's) the attempt takes back its own advance,
    leaving what other attempts added meanwhile."""
    for advance in reservation.advances:
        row = _locked_row(session, advance.key)
        if advance.key in reset:
            row.failures, row.last_failure_at, row.blocked_until = 0, None, None
            continue
        row.failures = max(row.failures - 1, 0)
        if row.failures == advance.failures:   # nobody else failed since: as it was
            row.last_failure_at = advance.last_failure_at
        if row.blocked_until == advance.set_blocked_until:
            row.blocked_until = advance.blocked_until


def prune(session: Session, now: dt.datetime) -> int:
    """Forget counters whose last failure is older than FORGET_AFTER, and counters a
    success brought back to zero (a flood of made-up logins leaves one row each)."""
    return session.execute(delete(LoginThrottle).where(
        (LoginThrottle.last_failure_at < now - FORGET_AFTER)
        | (LoginThrottle.failures == 0))).rowcount


def unlock(session: Session, key: str) -> bool:
    """Forget a key's failures (an operator's decision). Whether there were any."""
    return session.execute(delete(LoginThrottle).where(LoginThrottle.key == key,
                                                       LoginThrottle.failures > 0)).rowcount > 0
