"""Webhooks for reviewer systems: endpoints, their signing secrets, deliveries.

An event (routed, resubmitted, decided, withdrawn, overdue) becomes one delivery row per
interested endpoint, written in the same transaction as the change that caused it,
together with an outbox message to the review queue itself
(``webhook.delivery_requested``). The review worker claims the delivery, POSTs it signed
per Standard Webhooks (:mod:`shared.webhooks`) outside any transaction, and records the
attempt. A failed attempt is retried with exponential backoff by the review periodic
task; a delivery whose worker died mid-POST is picked up again when its lease expires.

Endpoints reach only addresses :mod:`shared.outbound` permits (checked when registered
and again at every attempt); what the delivery log shows of an attempt is its status
class and a Japanese reason. Redelivery on demand is rate-limited per endpoint.
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import audit, outbound
from shared import webhooks as signing
from shared.contracts import NOTIFICATION_KINDS
from shared.db import utcnow
from shared.messaging import ServiceContext, requeue_due
from shared.web import ApiError, not_found
from services.review.models import (WebhookAttempt, WebhookDelivery, WebhookEndpoint,
                                    WebhookSecret)

EVENTS = ("routed", "resubmitted", "decided", "withdrawn", "overdue")
# Notices an applying organisation's system may subscribe to (docs/notifications.md);
# an account is issued before its organisation could register anything.
NOTICE_EVENTS = tuple(k for k in NOTIFICATION_KINDS if k != "account_issued")
# Retries: after RETRY_BASE_SECONDS, then twice as long each time, up to MAX_ATTEMPTS.
RETRY_BASE_SECONDS = 10.0
RETRY_MAX_SECONDS = 6 * 3600.0
MAX_ATTEMPTS = 10
# A claimed or queued delivery whose worker did not report within this long is queued
# again (it must exceed the HTTP timeout of shared.webhooks).
LEASE_SECONDS = 60.0
# Redeliveries on demand, per endpoint (limits' notation).
REDELIVER_LIMIT = "5/minute"
ENDPOINT_REMOVED = "Webhook が削除されたため、送信しませんでした。"


# --- endpoints and secrets ---------------------------------------------------------------

def create_endpoint(session: Session, org_id: str, login: str, url: str,
                    events: list[str]) -> tuple[WebhookEndpoint, WebhookSecret]:
    endpoint = WebhookEndpoint(org_id=org_id, url=url, events=sorted(set(events)),
                               created_by=login)
    session.add(endpoint)
    session.flush()
    secret = _new_secret(session, endpoint)
    _record(session, endpoint, "webhook.created",
            {"url": url[:200], "events": endpoint.events, "secret_id": secret.id})
    return endpoint, secret


def _record(session: Session, endpoint: WebhookEndpoint, action: str, detail: dict) -> None:
    """Review's audit log (never a secret: only its id)."""
    audit.record(session, action, f"webhook:{endpoint.id}", detail,
                 subject_org=endpoint.org_id)


def remove_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Stop an endpoint: no more deliveries (its log stays)."""
    endpoint.active = False
    _record(session, endpoint, "webhook.deleted", {"url": endpoint.url[:200]})


def owned_endpoint(session: Session, org_id: str, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint if it belongs to the caller's organisation; 404 otherwise."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.org_id != org_id or not endpoint.active:
        raise not_found("Webhook")
    return endpoint


def endpoints_of(session: Session, org_id: str) -> list[WebhookEndpoint]:
    """The organisation's active endpoints, oldest first."""
    return list(session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.org_id == org_id, WebhookEndpoint.active.is_(True))
        .order_by(WebhookEndpoint.id)))


def owned_delivery(session: Session, endpoint: WebhookEndpoint,
                   delivery_id: str) -> WebhookDelivery:
    """One delivery of ``endpoint``; 404 otherwise."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise not_found("配信記録")
    return delivery


def add_secret(session: Session, endpoint: WebhookEndpoint) -> WebhookSecret:
    """A further signing secret (rotation: both sign until the old one is retired)."""
    secret = _new_secret(session, endpoint)
    _record(session, endpoint, "webhook.secret_added", {"secret_id": secret.id})
    return secret


def _new_secret(session: Session, endpoint: WebhookEndpoint) -> WebhookSecret:
    secret = WebhookSecret(endpoint=endpoint, secret=signing.generate_secret())
    session.add(secret)
    session.flush()
    return secret


def retire_secret(session: Session, endpoint: WebhookEndpoint, secret_id: int) -> None:
    secret = next((s for s in endpoint.secrets if s.id == secret_id), None)
    if secret is None or secret.retired_at is not None:
        raise not_found("署名用シークレット")
    if len(active_secrets(endpoint)) <= 1:
        raise ApiError(409, "last_secret",
                       "最後の有効なシークレットは廃止できません。先に新しいシークレットを追加してください。")
    secret.retired_at = utcnow()
    _record(session, endpoint, "webhook.secret_retired", {"secret_id": secret.id})


def active_secrets(endpoint: WebhookEndpoint) -> list[str]:
    return [s.secret for s in endpoint.secrets if s.retired_at is None]


def describe_endpoint(endpoint: WebhookEndpoint) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "events": endpoint.events,
            "org_id": endpoint.org_id, "created_at": endpoint.created_at.isoformat(),
            "secrets": [{"id": s.id, "created_at": s.created_at.isoformat(),
                         "active": s.retired_at is None} for s in endpoint.secrets]}


def _reason(status: int | None, error: str | None) -> str | None:
    """What the registrant is shown of a failure: a Japanese reason, never an
    exception text or an address."""
    return outbound.public_reason(status, error, ENDPOINT_REMOVED)


def describe_delivery(d: WebhookDelivery) -> dict:
    return {"id": d.id, "event": d.event, "status": d.status, "attempts": d.attempts,
            "last_status_class": outbound.status_class(d.last_status) if d.attempts else None,
            "last_error": _reason(d.last_status, d.last_error) if d.last_error else None,
            "created_at": d.created_at.isoformat(),
            "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            "next_attempt_at": (d.next_attempt_at.isoformat()
                                if d.next_attempt_at and d.status == "retrying" else None),
            "payload": d.payload,
            "log": [{"at": a.at.isoformat(), "ok": a.ok,
                     "status_class": outbound.status_class(a.status),
                     "error": _reason(a.status, a.error),
                     "duration_ms": a.duration_ms} for a in d.log]}


# --- events -----------------------------------------------------------------------------

def notify(ctx: ServiceContext, session: Session, event: str, org_ids, data: dict,
           family: str = "review") -> int:
    """Queue ``event`` for every active endpoint of ``org_ids`` that subscribed to it
    (payload type ``<family>.<event>``). Returns how many deliveries were queued."""
    orgs = {o for o in org_ids if o}
    if not orgs:
        return 0
    endpoints = session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.org_id.in_(orgs), WebhookEndpoint.active.is_(True))).all()
    now = utcnow()
    count = 0
    for endpoint in endpoints:
        if event not in endpoint.events:
            continue
        delivery = WebhookDelivery(
            id=f"msg_{uuid.uuid4().hex}", endpoint_id=endpoint.id, event=event,
            payload={"type": f"{family}.{event}", "timestamp": now.isoformat(), "data": data},
            status="pending", next_attempt_at=now + dt.timedelta(seconds=LEASE_SECONDS))
        session.add(delivery)
        session.flush()
        ctx.emit(session, "review", "webhook.delivery_requested", {"delivery_id": delivery.id})
        count += 1
    return count


def publish_notice(ctx: ServiceContext, session: Session, notice: dict) -> int:
    """A notice identity passed on: to the told organisation's endpoints that
    subscribed to its kind (type ``notification.<kind>``)."""
    if notice["kind"] not in NOTICE_EVENTS:
        return 0
    data = {k: v for k, v in notice.items() if v is not None and k != "kind"}
    return notify(ctx, session, notice["kind"], {notice["org_id"]}, data,
                  family="notification")


def redeliver(ctx: ServiceContext, session: Session, delivery: WebhookDelivery) -> None:
    """Send a delivery again on demand (same webhook-id, so receivers may deduplicate)."""
    if delivery.status in ("sending", "pending", "queued"):
        raise ApiError(409, "delivery_in_progress", "この配信は現在送信中です。完了後に再送してください。")
    previous, delivery.status = delivery.status, "queued"
    delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=LEASE_SECONDS)
    audit.record(session, "webhook.redelivered", f"webhook:{delivery.endpoint_id}",
                 {"delivery": delivery.id, "event": delivery.event, "status": previous})
    ctx.emit(session, "review", "webhook.delivery_requested", {"delivery_id": delivery.id})


# --- sending ----------------------------------------------------------------------------

def claim(session: Session, delivery_id: str) -> dict | None:
    """Take a queued delivery for sending (None if it is not waiting to be sent, e.g.
    delivered already or claimed by another worker)."""
    now = utcnow()
    moved = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id,
               WebhookDelivery.status.in_(("pending", "queued")))
        .values(status="sending", next_attempt_at=now + dt.timedelta(seconds=LEASE_SECONDS)))
    if moved.rowcount != 1:
        return None
    delivery = session.get(WebhookDelivery, delivery_id)
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    secrets = active_secrets(endpoint)
    if not endpoint.active or not secrets:
        delivery.status, delivery.last_error = "failed", ENDPOINT_REMOVED
        return None
    return {"id": delivery.id, "url": endpoint.url, "secrets": secrets,
            "body": signing.encode(delivery.payload)}


def send(ctx: ServiceContext, claimed: dict) -> signing.DeliveryResult:
    """POST a claimed delivery (no transaction is open meanwhile) and record it. The
    destination is checked again now (:mod:`shared.outbound`)."""
    result = signing.deliver(claimed["url"], claimed["secrets"], claimed["id"],
                             claimed["body"], policy=outbound.Policy.of(ctx.settings))
    with ctx.transaction() as session:
        delivery = session.get(WebhookDelivery, claimed["id"])
        now = utcnow()
        session.add(WebhookAttempt(delivery_id=delivery.id, at=now, ok=result.ok,
                                   status=result.status, error=result.error,
                                   duration_ms=result.duration_ms))
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = result.status, result.error
        if result.ok:
            delivery.status, delivery.delivered_at = "delivered", now
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1))
            delivery.status = "retrying"
            delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
    return result


def queue_due(ctx: ServiceContext, session: Session, limit: int = 100) -> int:
    """Queue again the deliveries whose retry time came, or whose lease expired."""
    return requeue_due(ctx, session, WebhookDelivery, ("retrying", "pending", "queued", "sending"),
                       "webhook.delivery_requested", "delivery_id", LEASE_SECONDS, limit)


def deliveries_of(session: Session, endpoint: WebhookEndpoint, limit: int = 200):
    return session.scalars(select(WebhookDelivery)
                           .where(WebhookDelivery.endpoint_id == endpoint.id)
                           .order_by(WebhookDelivery.created_at.desc()).limit(limit)).all()

