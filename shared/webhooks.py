"""Outgoing webhooks signed per the Standard Webhooks specification.

Headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (``v1,<base64
HMAC-SHA256 of "id.timestamp.body">``, space-separated when several secrets are active,
for rotation). Secrets look like ``whsec_<base64>``, so a receiver using the
specification's reference libraries verifies deliveries unchanged.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Iterable

from shared import outbound

SECRET_PREFIX = "whsec_"
TIMEOUT_SECONDS = outbound.TIMEOUT_SECONDS


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: Iterable[str], msg_id: str, body: bytes,
            timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every active secret."""
    ts = int(time.time()) if timestamp is None else timestamp
    signature = " ".join(sign(s, msg_id, ts, body) for s in secrets_)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature,
            "content-type": "application/json"}


def verify(secret: str, hdrs: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """Check a delivery as a receiver would (used by tests and by the docs' example)."""
    lower = {k.lower(): v for k, v in hdrs.items()}
    ts = int(lower["webhook-timestamp"])
    if abs(time.time() - ts) > tolerance:
        return False
    expected = sign(secret, lower["webhook-id"], ts, body)
    return any(hmac.compare_digest(expected, sig)
               for sig in lower["webhook-signature"].split(" "))


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DeliveryResult:
    """One attempt: ``status`` is the HTTP status (None without an answer), ``error`` a
    Japanese reason from :data:`shared.outbound.REASONS` (None on success) — what the
    registrant may see; never an exception text or an address."""

    ok: bool
    status: int | None
    error: str | None
    duration_ms: int

    @property
    def status_class(self) -> str:
        return outbound.status_class(self.status)


def deliver(url: str, secrets_: Iterable[str], msg_id: str, body: bytes, *,
            kind: str = "webhook", policy: outbound.Policy | None = None) -> DeliveryResult:
    """POST one signed delivery where ``policy`` lets it go (by default: public
    addresses only; see :mod:`shared.outbound`). 2xx is success; anything else (a
    redirect included, which is not followed) or no answer is a failure the caller
    retries with backoff. Counted in ``nws_deliveries_total`` under ``kind``
    ("webhook" for reviewer systems, "master" for subscribers)."""
    started = time.monotonic()
    response = outbound.post(url, body, headers(secrets_, msg_id, body),
                             policy or outbound.Policy())
    from shared.observability import metrics

    metrics().deliveries.labels(kind, "delivered" if response.ok else "failed").inc()
    error = None if response.ok else outbound.REASONS[response.reason or "failed"]
    return DeliveryResult(response.ok, response.status, error,
                          int((time.monotonic() - started) * 1000))
