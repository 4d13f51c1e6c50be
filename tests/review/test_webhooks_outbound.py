"""Reviewer webhooks go only where they may: the SSRF matrix refused at registration
(422, Japanese) and again at delivery (nothing sent, the log says why in Japanese and
never names an address), DNS rebinding between the two, redirects not followed, the
allow-list letting 127.0.0.0/8 through, and redelivery rate-limited per webhook."""
from __future__ import annotations

import json
import uuid

import pytest

from services.review import webhooks as review_webhooks
from services.review.models import WebhookDelivery, WebhookEndpoint, WebhookSecret
from shared import outbound
from shared import webhooks as signing
from shared.db import utcnow
from tests.conftest import Suite, wait_for
from tests.outbound_support import (LOCAL, MALFORMED, PUBLIC_ADDRESS, REFUSED,  # noqa: F401
                                    Receiver, japanese, local, no_address_in, only_loopback,
                                    receiver, resolver)
from tests.review import support
from tests.review.support import CHIYODA

@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """Settings as shipped (nothing allowed); no worker: deliveries are sent by the
    tests themselves."""
    s = Suite(tmp_path_factory.mktemp("webhooks-strict") / "var", start_worker=False)
    yield s
    s.close()


@pytest.fixture
def live(tmp_path):
    """Settings as shipped, with a worker."""
    s = Suite(tmp_path / "var")
    yield s
    s.close()


def register(suite, url, login="demo-pref", events=("routed",)):
    return suite.client.post("/api/review/webhooks", json={"url": url, "events": list(events)},
                             headers=suite.headers(login))


def deliveries(suite, hook_id, login="demo-pref"):
    res = suite.client.get(f"/api/review/webhooks/{hook_id}/deliveries",
                           headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return res


def attempted(suite, hook_id):
    """The endpoint's delivery once it has been attempted."""
    items = deliveries(suite, hook_id).get_json()["items"]
    return items[0] if items and items[0]["attempts"] else None


# --- registration ----------------------------------------------------------------------

@pytest.mark.parametrize("url", REFUSED)
def test_internal_destinations_are_refused_at_registration(strict, url, resolver):
    res = register(strict, url.format(port=8080))
    assert res.status_code == 422, res.get_json()
    [message] = res.get_json()["error"]["details"]["url"]
    assert japanese(message) and "内部向け" in message
    assert strict.client.get("/api/review/webhooks",
                             headers=strict.headers("demo-pref")).get_json()["items"] == []


@pytest.mark.parametrize("url, code", MALFORMED)
def test_malformed_destinations_are_refused_at_registration(strict, url, code, resolver):
    res = register(strict, url.format(port=8080))
    assert res.status_code == 422
    assert res.get_json()["error"]["details"]["url"] == [outbound.REGISTRATION_MESSAGES[code]]


def test_a_public_destination_is_registered_in_canonical_form(strict, resolver):
    resolver.answers["hooks.example.jp"] = [PUBLIC_ADDRESS]
    res = register(strict, "HTTPS://Hooks.Example.JP/a/../hook#x")
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["url"] == "https://hooks.example.jp/hook"
    strict.client.delete(f"/api/review/webhooks/{res.get_json()['id']}",
                         headers=strict.headers("demo-pref"))


def test_the_allow_list_lets_127_0_0_0_8_through(local):
    for url in ("http://127.0.0.1:9/hook", "http://127.1:9/hook", "http://2130706433:9/hook"):
        res = register(local, url)
        assert res.status_code == 201, res.get_json()
        assert res.get_json()["url"] == "http://127.0.0.1:9/hook"
    for url in ("http://[::1]:9/hook", "http://10.0.0.1/hook", "http://169.254.169.254/"):
        assert register(local, url).status_code == 422


# --- delivery: checked again ------------------------------------------------------------

def _delivery_to(suite, url: str) -> str:
    """A delivery waiting for an endpoint whose stored URL is ``url`` (as if it had been
    registered before the check, or under a wider allow-list)."""
    ctx = suite.ctx("review")
    with ctx.transaction() as session:
        endpoint = WebhookEndpoint(org_id="130001", url=url, events=["routed"],
                                   created_by="demo-pref")
        session.add(endpoint)
        session.flush()
        session.add(WebhookSecret(endpoint=endpoint, secret=signing.generate_secret()))
        delivery = WebhookDelivery(id=f"msg_{uuid.uuid4().hex}", endpoint_id=endpoint.id,
                                   event="routed", status="queued", next_attempt_at=utcnow(),
                                   payload={"type": "review.routed", "data": {}})
        session.add(delivery)
        session.flush()
        return endpoint.id, delivery.id


@pytest.mark.parametrize("url", REFUSED + [pytest.param(p.values[0], id=p.id)
                                           for p in MALFORMED])
def test_internal_destinations_are_refused_at_delivery(strict, url, receiver, resolver,
                                                       only_loopback):
    hook_id, delivery_id = _delivery_to(strict, url.format(port=receiver.port))
    ctx = strict.ctx("review")
    with ctx.transaction() as session:
        claimed = review_webhooks.claim(session, delivery_id)
    result = review_webhooks.send(ctx, claimed)
    assert not result.ok and receiver.requests == [] and only_loopback == []
    res = deliveries(strict, hook_id)
    [item] = res.get_json()["items"]
    assert item["status"] == "retrying" and item["last_status_class"] == "接続できませんでした"
    [attempt] = item["log"]
    assert attempt["ok"] is False and attempt["status_class"] == "接続できませんでした"
    assert attempt["error"] in (outbound.REASONS["refused"], outbound.REASONS["invalid_url"])
    assert item["last_error"] == attempt["error"]
    assert no_address_in(json.dumps(item["log"], ensure_ascii=False))


def test_dns_rebinding_after_registration_is_refused_at_delivery(live, receiver, resolver,
                                                                only_loopback):
    resolver.answers["rebind.example.jp"] = [PUBLIC_ADDRESS]
    res = register(live, f"http://rebind.example.jp:{receiver.port}{receiver.path}")
    assert res.status_code == 201, res.get_json()
    hook_id = res.get_json()["id"]
    resolver.answers["rebind.example.jp"] = ["127.0.0.1"]       # the name now points inside
    support.submit(live, CHIYODA)
    item = wait_for(lambda: attempted(live, hook_id), what="refused attempt")
    assert item["log"][0]["status_class"] == "接続できませんでした"
    assert item["log"][0]["error"] == outbound.REASONS["refused"]
    assert receiver.requests == [] and only_loopback == []
    assert resolver.asked.count("rebind.example.jp") >= 2   # at registration and at delivery


def test_a_redirect_is_not_followed_and_is_a_failed_delivery(local, receiver, only_loopback):
    redirecting = Receiver(status=307, location=receiver.url)
    try:
        res = register(local, redirecting.url)
        assert res.status_code == 201
        hook_id = res.get_json()["id"]
        support.submit(local, CHIYODA)
        item = wait_for(lambda: attempted(local, hook_id), what="first attempt")
        assert item["status"] == "retrying"
        assert (item["log"][0]["status_class"], item["log"][0]["error"]) == (
            "3xx", outbound.REASONS["redirect"])
        assert len(redirecting.requests) == 1 and receiver.requests == []
    finally:
        redirecting.close()


# --- redelivery is rate-limited per webhook -----------------------------------------------

def test_redelivery_is_rate_limited_per_webhook(local, monkeypatch):
    monkeypatch.setattr(review_webhooks, "REDELIVER_LIMIT", "2/minute")
    first, second = Receiver(), Receiver()
    try:
        hooks = [register(local, r.url).get_json()["id"] for r in (first, second)]
        support.submit(local, CHIYODA)

        def delivered(hook_id, attempts):
            items = deliveries(local, hook_id).get_json()["items"]
            return items if items and items[0]["status"] == "delivered" and (
                items[0]["attempts"] == attempts) else None

        ids = {h: wait_for(lambda: delivered(h, 1), what="delivered")[0]["id"] for h in hooks}

        def redeliver(hook_id, login="demo-pref"):
            return local.client.post(
                f"/api/review/webhooks/{hook_id}/deliveries/{ids[hook_id]}/redeliver",
                headers=local.headers(login))

        # Another organisation's attempts neither succeed nor use up the limit.
        assert redeliver(hooks[0], "demo-mic").status_code == 404
        for n in (2, 3):
            assert redeliver(hooks[0]).status_code == 202
            wait_for(lambda: delivered(hooks[0], n), what=f"redelivery {n}")
        res = redeliver(hooks[0])
        assert res.status_code == 429
        body = res.get_json()["error"]
        assert body["code"] == "rate_limited" and japanese(body["message"])
        assert "1 分あたり 2 回" in body["message"]
        assert 1 <= int(res.headers["Retry-After"]) <= 60
        assert len(first.requests) == 3
        # The limit is per webhook: the other one may still be redelivered.
        assert redeliver(hooks[1]).status_code == 202
        wait_for(lambda: delivered(hooks[1], 2), what="the other webhook's redelivery")
    finally:
        first.close()
        second.close()
