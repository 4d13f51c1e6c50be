"""Distribution of published versions to subscribers (配信).

Each published version owes every active subscriber one delivery: a row in
``master_deliveries`` and a ``master.delivery_requested`` message the master sends to
its own queue through the outbox (so it leaves only if the version was committed, and
is published again by the sweeper if the broker lost it). The task claims the delivery,
builds the body — the whole version (``snapshot``) or the diff since the version the
subscriber last acknowledged (``diff``) — POSTs it signed per Standard Webhooks, logs
the attempt, and on failure retries with exponential backoff up to a limit.

Subscriber URLs reach only addresses :mod:`shared.outbound` permits (checked when
registered and again at every attempt); the delivery log shows of an attempt its status
class and a Japanese reason.

Nothing here reads the restricted table: 緊急連絡先 never leave the master.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import audit, outbound, webhooks
from shared.db import utcnow
from shared.messaging import ServiceContext
from shared.web import not_found
from services.master import registry
from services.master.models import Delivery, DeliveryAttempt, MasterVersion, Subscriber

#: how long a claimed attempt keeps others off it (above the HTTP timeout)
LEASE_SECONDS = webhooks.TIMEOUT_SECONDS + 50
#: a message arriving this early for its attempt is still taken
EARLY_TOLERANCE_SECONDS = 1.0
CANCELLED = "購読が停止されました。"


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (1-based) that failed waits ``base * 2**(n-1)`` seconds (at most
    ``cap``) before the next; after ``max_attempts`` the delivery is ``failed``."""

    base: float = 30.0
    cap: float = 3600.0
    max_attempts: int = 12

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        env = os.environ
        return cls(base=float(env.get("NWS_MASTER_RETRY_BASE", cls.base)),
                   cap=float(env.get("NWS_MASTER_RETRY_CAP", cls.cap)),
                   max_attempts=int(env.get("NWS_MASTER_RETRY_MAX_ATTEMPTS",
                                            cls.max_attempts)))

    def delay(self, attempts: int) -> float:
        return min(self.cap, self.base * 2 ** max(0, attempts - 1))


# --- scheduling ------------------------------------------------------------------------

def schedule(ctx: ServiceContext, session: Session, number: int,
             subscribers: list[Subscriber] | None = None) -> list[int]:
    """One delivery (and one master-queue message) per active subscriber for version
    ``number``, inside the caller's transaction. Returns the delivery ids."""
    if subscribers is None:
        subscribers = list(session.scalars(select(Subscriber).where(Subscriber.active)))
    ids = []
    for sub in subscribers:
        delivery = Delivery(subscriber_id=sub.id, version=number, status="pending",
                            attempts=0, created_at=utcnow(), next_attempt_at=utcnow())
        session.add(delivery)
        session.flush()
        ctx.emit(session, "master", "master.delivery_requested",
                 {"delivery_id": delivery.id, "subscriber_id": sub.id, "version": number})
        ids.append(delivery.id)
    return ids


# --- what a subscriber receives -------------------------------------------------------

def document(session: Session, sub: Subscriber, number: int, *, mode: str | None = None,
             base: int | None = None) -> tuple[dict, bytes]:
    """Version ``number`` as ``sub`` receives it (delivery or pull): what the document
    is (everything but the rows) and the JSON document itself."""
    version = session.get(MasterVersion, number)
    mode = mode or sub.mode
    meta = {"type": "master.snapshot" if mode == "snapshot" else "master.diff",
            "subscription_id": sub.id, "version": registry.describe_version(version),
            "checksum": version.checksum}
    if mode == "snapshot":
        tables = registry.content_json(session, number)
    else:
        if base is None:
            base = sub.acked_version or 0
        if base > number:
            base = 0  # the subscriber acknowledged a newer version: send it all
        meta["from"] = base
        meta["base_checksum"] = ("0" * 64 if base == 0
                                 else session.get(MasterVersion, base).checksum)
        tables = registry.diff_json(session, base, number)
    head = json.dumps(meta, ensure_ascii=False, separators=(",", ":"))
    return meta, (head[:-1] + ',"tables":' + tables + "}").encode()


# --- one attempt ---------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What the task should do next: ``done`` (acknowledge the message), ``retry``
    after ``delay`` seconds, or ``skip`` (another run holds or has scheduled it)."""

    action: str
    delay: float = 0.0


def _finish(session: Session, delivery: Delivery, status: str, error: str | None = None):
    delivery.status, delivery.finished_at = status, utcnow()
    delivery.last_error = error


def attempt(ctx: ServiceContext, delivery_id: int, policy: RetryPolicy | None = None) -> Outcome:
    """Claim delivery ``delivery_id``, POST it once, log the attempt."""
    policy = policy or RetryPolicy.from_env()
    now = utcnow()
    with ctx.db.transaction() as session:
        # Locked and read afresh: a second run of this message (the sweeper sends it
        # again until it is acknowledged) could otherwise read "pending" while the
        # first run records "delivered", then overwrite it with "superseded" or
        # "cancelled" decided from that old status.
        delivery = session.get(Delivery, delivery_id, with_for_update=True,
                               populate_existing=True)
        if delivery is None or delivery.status != "pending":
            return Outcome("done")
        sub = session.get(Subscriber, delivery.subscriber_id)
        if not sub.active:
            _finish(session, delivery, "cancelled", CANCELLED)
            return Outcome("done")
        newer = session.scalar(select(Delivery.id).where(
            Delivery.subscriber_id == sub.id, Delivery.version > delivery.version,
            Delivery.status == "delivered").limit(1))
        if (sub.acked_version or 0) >= delivery.version or newer is not None:
            _finish(session, delivery, "superseded")
            return Outcome("done")
        claimed = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "pending",
                   Delivery.next_attempt_at <= now + dt.timedelta(
                       seconds=EARLY_TOLERANCE_SECONDS))
            .values(next_attempt_at=now + dt.timedelta(seconds=LEASE_SECONDS))
            .execution_options(synchronize_session=False)).rowcount
        if not claimed:
            return Outcome("skip")
        meta, data = document(session, sub, delivery.version)
        url, secret, number = sub.url, sub.secret, delivery.attempts + 1
    kind = "snapshot" if meta["type"] == "master.snapshot" else "diff"
    base = meta.get("from")
    message_id = f"msg_master_{delivery_id}_{kind}{'' if base is None else base}"
    result = webhooks.deliver(url, [secret], message_id, data, kind="master",
                              policy=outbound.Policy.of(ctx.settings))
    del data
    with ctx.db.transaction() as session:
        delivery = session.get(Delivery, delivery_id)
        session.add(DeliveryAttempt(delivery_id=delivery_id, number=number, at=utcnow(),
                                    message_id=message_id, kind=kind, base_version=base,
                                    ok=result.ok, status_code=result.status,
                                    error=result.error, duration_ms=result.duration_ms))
        delivery.attempts = number
        if result.ok:
            _finish(session, delivery, "delivered")
            return Outcome("done")
        if number >= policy.max_attempts:
            _finish(session, delivery, "failed", result.error)
            return Outcome("done")
        wait = policy.delay(number)
        delivery.last_error = result.error
        delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=wait)
        return Outcome("retry", wait)


# --- subscribers -------------------------------------------------------------------

def subscribe(ctx: ServiceContext, session: Session, url: str, mode: str,
              created_by: str) -> Subscriber:
    """A new subscriber; it is owed the current version at once (if there is one)."""
    sub = Subscriber(url=url, mode=mode, secret=webhooks.generate_secret(), active=True,
                     created_at=utcnow(), created_by=created_by)
    session.add(sub)
    session.flush()
    audit.record(session, "subscription.created", f"subscription:{sub.id}",
                 {"url": url[:200], "mode": mode})
    current = registry.head(session).number
    if current:
        schedule(ctx, session, current, [sub])
    return sub


def unsubscribe(session: Session, sub: Subscriber) -> None:
    """Stop a subscription: nothing more is delivered (pending deliveries are cancelled
    when their turn comes)."""
    sub.active = False
    audit.record(session, "subscription.deleted", f"subscription:{sub.id}",
                 {"url": sub.url[:200]})


def acknowledge(session: Session, sub: Subscriber, version: MasterVersion, *,
                by_subscriber: bool) -> None:
    """The subscriber has applied ``version``: diff deliveries start from it. Recorded
    as the subscriber's (a signed request) or the operator's action."""
    previous = sub.acked_version
    sub.acked_version, sub.acked_at = version.number, utcnow()
    audit.record(session, "subscription.acknowledged", f"subscription:{sub.id}",
                 {"version": version.number, "previous": previous},
                 actor=audit.Actor(f"subscription:{sub.id}", "subscriber", "")
                 if by_subscriber else None)


def subscriber(session: Session, sub_id: int, *, stopped: bool = False) -> Subscriber:
    """The subscription (a stopped one only if ``stopped``: its record and log stay
    readable by operators); 404 otherwise."""
    sub = session.get(Subscriber, sub_id)
    if sub is None or not (sub.active or stopped):
        raise not_found("購読")
    return sub


def subscribers(session: Session, *, stopped: bool = False) -> list[dict]:
    """The subscriptions (with the stopped ones if ``stopped``), oldest first, described."""
    stmt = select(Subscriber).order_by(Subscriber.id)
    if not stopped:
        stmt = stmt.where(Subscriber.active)
    return [describe_subscriber(s) for s in session.scalars(stmt)]


def delivery_log(session: Session, sub_id: int, limit: int = 200) -> list[dict]:
    """The subscriber's newest ``limit`` deliveries, each with every attempt, described."""
    deliveries = session.scalars(select(Delivery).where(Delivery.subscriber_id == sub_id)
                                 .order_by(Delivery.version.desc()).limit(limit)).all()
    attempts: dict[int, list] = {}
    for a in session.scalars(select(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id.in_([d.id for d in deliveries]))
            .order_by(DeliveryAttempt.number)):
        attempts.setdefault(a.delivery_id, []).append(a)
    return [describe_delivery(d, attempts.get(d.id, [])) for d in deliveries]


def describe_subscriber(sub: Subscriber) -> dict:
    """A subscriber as the API shows it (never its secret)."""
    return {"id": sub.id, "url": sub.url, "mode": sub.mode, "active": sub.active,
            "created_at": sub.created_at.isoformat(), "created_by": sub.created_by,
            "acked_version": sub.acked_version,
            "acked_at": sub.acked_at.isoformat() if sub.acked_at else None}


def describe_delivery(delivery: Delivery, attempts: list[DeliveryAttempt]) -> dict:
    """A delivery and its attempts as operators and the subscriber see them: each
    attempt's status class and a Japanese reason, never an exception text or an
    address."""
    last = attempts[-1] if attempts else None
    return {"id": delivery.id, "version": delivery.version, "status": delivery.status,
            "attempts": delivery.attempts, "created_at": delivery.created_at.isoformat(),
            "finished_at": delivery.finished_at.isoformat() if delivery.finished_at else None,
            "next_attempt_at": (delivery.next_attempt_at.isoformat()
                                if delivery.status == "pending" else None),
            "last_error": (outbound.public_reason(last.status_code if last else None,
                                                  delivery.last_error, CANCELLED)
                           if delivery.last_error else None),
            "log": [{"number": a.number, "at": a.at.isoformat(), "message_id": a.message_id,
                     "kind": a.kind, "from": a.base_version, "ok": a.ok,
                     "status_class": outbound.status_class(a.status_code),
                     "error": outbound.public_reason(a.status_code, a.error),
                     "duration_ms": a.duration_ms} for a in attempts]}


def request_id() -> str:
    return f"msg_{uuid.uuid4().hex}"
