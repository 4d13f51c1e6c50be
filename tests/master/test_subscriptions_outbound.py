"""Master subscriptions go only where they may: the SSRF matrix refused at registration
(422, Japanese) and again at delivery (nothing sent, the log says why in Japanese and
never names an address), DNS rebinding between the two, redirects not followed, and
the allow-list letting 127.0.0.0/8 through."""
from __future__ import annotations

import json

import pytest

from services.master import distribution
from services.master.models import Delivery, Subscriber
from shared import outbound, webhooks
from shared.db import utcnow
from tests.conftest import Suite, wait_for
from tests.master import approved
from tests.master.approved import api
from tests.master.receivers import signed
from tests.outbound_support import (LOCAL, MALFORMED, PUBLIC_ADDRESS, REFUSED,  # noqa: F401
                                    Receiver, japanese, local, no_address_in, only_loopback,
                                    receiver, resolver)

@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """Settings as shipped (nothing allowed), with master version 1 and no subscriber."""
    s = Suite(tmp_path_factory.mktemp("subscriptions-strict") / "var")
    approved.register(s, approved.payload("131016"), 1)
    yield s
    s.close()


@pytest.fixture
def fresh(tmp_path):
    """Settings as shipped, no version yet."""
    s = Suite(tmp_path / "var")
    yield s
    s.close()


def subscribe(suite, url, mode="snapshot"):
    return api(suite, "post", "/api/master/subscriptions", json={"url": url, "mode": mode})


def log_of(suite, sub_id):
    res = api(suite, "get", f"/api/master/subscriptions/{sub_id}/deliveries")
    assert res.status_code == 200, res.get_json()
    return res.get_json()["items"]


def attempted(suite, sub_id):
    items = log_of(suite, sub_id)
    return items[0] if items and items[0]["attempts"] else None


# --- registration ----------------------------------------------------------------------

@pytest.mark.parametrize("url", REFUSED)
def test_internal_destinations_are_refused_at_registration(strict, url, resolver):
    res = subscribe(strict, url.format(port=8080))
    assert res.status_code == 422, res.get_json()
    [message] = res.get_json()["error"]["details"]["url"]
    assert japanese(message) and "内部向け" in message
    assert api(strict, "get", "/api/master/subscriptions").get_json()["items"] == []


@pytest.mark.parametrize("url, code", MALFORMED)
def test_malformed_destinations_are_refused_at_registration(strict, url, code, resolver):
    res = subscribe(strict, url.format(port=8080))
    assert res.status_code == 422
    assert res.get_json()["error"]["details"]["url"] == [outbound.REGISTRATION_MESSAGES[code]]


def test_the_allow_list_lets_127_0_0_0_8_through(local):
    for url in ("http://127.0.0.1:9/master", "http://0x7f.1:9/master",
                "http://[::ffff:127.0.0.1]:9/master"):
        res = subscribe(local, url)
        assert res.status_code == 201, res.get_json()
        assert res.get_json()["url"] in ("http://127.0.0.1:9/master",
                                         "http://[::ffff:7f00:1]:9/master")
    for url in ("http://[::1]:9/master", "http://192.168.1.1/", "http://100.64.0.1/"):
        assert subscribe(local, url).status_code == 422


# --- delivery: checked again ------------------------------------------------------------

def _delivery_to(suite, url: str) -> tuple[int, int, str]:
    """A pending delivery of version 1 to a subscriber whose stored URL is ``url`` (as
    if registered before the check, or under a wider allow-list)."""
    with suite.ctx("master").transaction() as session:
        sub = Subscriber(url=url, mode="snapshot", secret=webhooks.generate_secret(),
                         active=True, created_at=utcnow(), created_by="demo-operator")
        session.add(sub)
        session.flush()
        delivery = Delivery(subscriber_id=sub.id, version=1, status="pending", attempts=0,
                            created_at=utcnow(), next_attempt_at=utcnow())
        session.add(delivery)
        session.flush()
        return sub.id, delivery.id, sub.secret


@pytest.mark.parametrize("url", REFUSED + [pytest.param(p.values[0], id=p.id)
                                           for p in MALFORMED])
def test_internal_destinations_are_refused_at_delivery(strict, url, receiver, resolver,
                                                       only_loopback):
    sub_id, delivery_id, secret = _delivery_to(strict, url.format(port=receiver.port))
    outcome = distribution.attempt(strict.ctx("master"), delivery_id)
    assert outcome.action == "retry"
    assert receiver.requests == [] and only_loopback == []
    # What the operator and the subscriber see.
    for res in (api(strict, "get", f"/api/master/subscriptions/{sub_id}/deliveries"),
                strict.client.get(f"/api/master/subscriptions/{sub_id}/deliveries",
                                  headers=signed(secret))):
        assert res.status_code == 200, res.get_json()
        [item] = res.get_json()["items"]
        [attempt] = item["log"]
        assert (attempt["ok"], attempt["status_class"]) == (False, "接続できませんでした")
        assert attempt["error"] in (outbound.REASONS["refused"], outbound.REASONS["invalid_url"])
        assert item["last_error"] == attempt["error"]
        assert no_address_in(json.dumps(item["log"], ensure_ascii=False))
    with strict.ctx("master").transaction() as session:   # not delivered again by others
        session.get(Subscriber, sub_id).active = False


def test_dns_rebinding_after_registration_is_refused_at_delivery(fresh, receiver, resolver,
                                                                only_loopback):
    resolver.answers["rebind.example.jp"] = [PUBLIC_ADDRESS]
    res = subscribe(fresh, f"http://rebind.example.jp:{receiver.port}{receiver.path}")
    assert res.status_code == 201, res.get_json()
    sub_id = res.get_json()["id"]
    resolver.answers["rebind.example.jp"] = ["127.0.0.1"]      # the name now points inside
    approved.register(fresh, approved.payload("131016"), 1)
    item = wait_for(lambda: attempted(fresh, sub_id), what="refused attempt")
    assert (item["log"][0]["status_class"], item["log"][0]["error"]) == (
        "接続できませんでした", outbound.REASONS["refused"])
    assert item["status"] == "pending"     # retried later, checked again each time
    assert receiver.requests == [] and only_loopback == []


def test_a_redirect_is_not_followed_and_is_a_failed_delivery(local, receiver, only_loopback):
    redirecting = Receiver(status=301, location=receiver.url)
    try:
        res = subscribe(local, redirecting.url)
        assert res.status_code == 201
        sub_id = res.get_json()["id"]
        approved.register(local, approved.payload("131016"), 1)
        item = wait_for(lambda: attempted(local, sub_id), what="first attempt")
        assert (item["log"][0]["status_class"], item["log"][0]["error"]) == (
            "3xx", outbound.REASONS["redirect"])
        assert item["status"] == "pending"
        assert len(redirecting.requests) == 1 and receiver.requests == []
    finally:
        redirecting.close()
