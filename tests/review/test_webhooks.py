"""Webhooks for reviewer systems: signed per Standard Webhooks (verified here with the
reference library), sent by review tasks with retries and backoff, logged, redelivered
on demand, and only to the organisation the event concerns."""
from __future__ import annotations

import http.server
import json
import threading
import uuid

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.review import webhooks as review_webhooks
from shared import outbound
from services.review.models import WebhookDelivery
from tests.conftest import Suite, wait_for
from tests.review import support
from tests.review.support import CHIYODA, OSAKA_CITY

PREF_SYSTEM = "tokyo-review-system"   # the reviewer system's own account at 東京都
OSAKA = "osaka-reviewer-wh"


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 answering with scripted statuses (then 200)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path != receiver.path:  # a stray client on a reused port
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.path = f"/hooks/{uuid.uuid4().hex}"
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, application_id=None) -> list[dict]:
        out = [json.loads(body) for _, body in self.requests]
        return [e for e in out
                if application_id is None or e["data"]["application_id"] == application_id]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("review-webhooks") / "var",
              # the receivers listen on this machine
              env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
    s.add_user(PREF_SYSTEM, "130001", "primary_reviewer")
    s.add_user(OSAKA, "270008", "primary_reviewer")
    yield s
    s.close()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(review_webhooks, "RETRY_BASE_SECONDS", 0.2)


@pytest.fixture
def hooks(suite):
    """Register endpoints (with receivers) for a test; remove both afterwards."""
    made = []

    def register(login: str, events=("routed", "decided", "withdrawn", "resubmitted", "overdue"),
                 statuses=()):
        receiver = Receiver(statuses)
        res = suite.client.post("/api/review/webhooks", json={"url": receiver.url,
                                                              "events": list(events)},
                                headers=suite.headers(login))
        assert res.status_code == 201, res.get_json()
        body = res.get_json()
        made.append((login, body["id"], receiver))
        return body, receiver

    yield register
    for login, hook_id, receiver in made:
        suite.client.delete(f"/api/review/webhooks/{hook_id}", headers=suite.headers(login))
        receiver.close()


def deliveries(suite, login: str, hook_id: int) -> list[dict]:
    res = suite.client.get(f"/api/review/webhooks/{hook_id}/deliveries",
                           headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["items"]


# --- registration --------------------------------------------------------------------------

def test_a_reviewing_organisation_registers_an_endpoint_and_gets_a_secret(suite, hooks):
    body, _ = hooks("demo-pref")
    assert body["secret"].startswith("whsec_") and isinstance(body["id"], int)
    listed = suite.client.get("/api/review/webhooks", headers=suite.headers("demo-pref"))
    assert [h["id"] for h in listed.get_json()["items"]] == [body["id"]]
    # Another organisation neither sees nor reads it.
    assert suite.client.get("/api/review/webhooks",
                            headers=suite.headers(OSAKA)).get_json()["items"] == []
    assert suite.client.get(f"/api/review/webhooks/{body['id']}/deliveries",
                            headers=suite.headers(OSAKA)).status_code == 404


@pytest.mark.parametrize("login, status", [("demo-applicant", 422), ("demo-operator", 403)])
def test_only_reviewing_roles_register_endpoints_for_review_events(suite, login, status):
    """Operators register none; applicants register only their notices'
    (tests/identity/test_notification_webhooks.py)."""
    res = suite.client.post("/api/review/webhooks", json={"url": "http://127.0.0.1:9/x",
                                                          "events": ["routed"]},
                            headers=suite.headers(login))
    assert res.status_code == status


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.jp/x", "events": ["routed"]}, "url"),
    ({"url": "http://example.jp/x", "events": ["approved"]}, "events"),
    ({"url": "http://example.jp/x", "events": []}, "events"),
    ({"events": ["routed"]}, "url"),
])
def test_bad_registration_is_422_in_japanese(suite, body, field):
    res = suite.client.post("/api/review/webhooks", json=body, headers=suite.headers("demo-pref"))
    assert res.status_code == 422
    assert field in res.get_json()["error"]["details"]
    assert suite.client.get("/api/review/webhooks",
                            headers=suite.headers("demo-pref")).get_json()["items"] == []


# --- delivery --------------------------------------------------------------------------------

def test_routed_event_arrives_signed_and_verifies_with_the_reference_library(suite, hooks):
    body, receiver = hooks("demo-pref", events=["routed"])
    app_id = support.submit(suite, CHIYODA)
    wait_for(lambda: receiver.events(app_id), what="routed webhook")
    headers, raw = receiver.requests[-1]
    event = Webhook(body["secret"]).verify(raw, headers)
    assert event["type"] == "review.routed"
    assert event["data"]["application_id"] == app_id
    assert event["data"]["stage"] == "primary" and event["data"]["reviewer_org_id"] == "130001"
    assert headers["webhook-id"].startswith("msg_")


def test_an_endpoint_failing_twice_then_succeeding_gets_one_delivery_recorded_delivered(
        suite, hooks):
    body, receiver = hooks("demo-pref", events=["routed"], statuses=[500, 503])
    app_id = support.submit(suite, CHIYODA)
    wait_for(lambda: any(d["status"] == "delivered" for d in deliveries(suite, "demo-pref",
                                                                          body["id"])),
             timeout=90, what="delivery after two failures")
    items = deliveries(suite, "demo-pref", body["id"])
    assert len(items) == 1
    item = items[0]
    assert (item["status"], item["attempts"]) == ("delivered", 3)
    assert [a["status_class"] for a in item["log"]] == ["5xx", "5xx", "2xx"]
    assert [a["error"] for a in item["log"]] == [outbound.REASONS["server_error"]] * 2 + [None]
    assert [a["ok"] for a in item["log"]] == [False, False, True]
    # The receiver saw the same message three times (same webhook-id), each verifiable.
    ids = {h["webhook-id"] for h, _ in receiver.requests}
    assert ids == {item["id"]} and len(receiver.requests) == 3
    for headers, raw in receiver.requests:
        assert Webhook(body["secret"]).verify(raw, headers)["data"]["application_id"] == app_id


def test_events_go_only_to_the_organisations_concerned(suite, hooks):
    _, tokyo = hooks("demo-pref")
    _, osaka = hooks(OSAKA)
    _, mic = hooks("demo-mic", events=["routed"])
    app_id = support.submit(suite, CHIYODA)
    wait_for(lambda: tokyo.events(app_id), what="tokyo routed")
    assert support.decide(suite, "demo-pref", app_id).status_code == 201
    wait_for(lambda: mic.events(app_id), what="mic routed")
    wait_for(lambda: len(tokyo.events(app_id)) == 2, what="tokyo decided")
    assert [e["type"] for e in tokyo.events(app_id)] == ["review.routed", "review.decided"]
    assert tokyo.events(app_id)[1]["data"]["decision"]["result"] == "承認"
    assert [e["data"]["stage"] for e in mic.events(app_id)] == ["secondary"]
    osaka_app = support.submit(suite, OSAKA_CITY)
    wait_for(lambda: osaka.events(osaka_app), what="osaka routed")
    assert osaka.events(app_id) == [] and tokyo.events(osaka_app) == []


def test_rejection_and_resubmission_are_announced(suite, hooks):
    _, tokyo = hooks("demo-pref", events=["decided", "resubmitted", "routed"])
    app_id = support.submit(suite, CHIYODA)
    assert support.decide(suite, "demo-pref", app_id, "否認", "記入漏れがあります。").status_code == 201
    support.submit(suite, CHIYODA, app_id=app_id, round=2)
    wait_for(lambda: len(tokyo.events(app_id)) == 4, what="four events")
    types = sorted(e["type"] for e in tokyo.events(app_id))
    assert types == ["review.decided", "review.resubmitted", "review.routed", "review.routed"]
    resubmitted = next(e for e in tokyo.events(app_id) if e["type"] == "review.resubmitted")
    assert resubmitted["data"]["round"] == 2


def test_a_reviewer_system_decides_through_the_api_with_its_own_token(suite, hooks):
    body, receiver = hooks(PREF_SYSTEM, events=["routed"])
    app_id = support.submit(suite, CHIYODA)
    event = Webhook(body["secret"]).verify(*reversed(wait_for(
        lambda: next(((h, raw) for h, raw in receiver.requests
                      if json.loads(raw)["data"]["application_id"] == app_id), None))))
    res = support.decide(suite, PREF_SYSTEM, event["data"]["application_id"], "承認")
    assert res.status_code == 201
    c = support.case(suite, app_id)
    assert c.decisions[0].reviewer_login == PREF_SYSTEM and c.stage == "secondary"


# --- secrets and redelivery --------------------------------------------------------------------

def test_rotation_signs_with_every_active_secret_and_stops_with_a_retired_one(suite, hooks):
    body, receiver = hooks("demo-pref", events=["routed"])
    hook = body["id"]
    h = suite.headers("demo-pref")
    added = suite.client.post(f"/api/review/webhooks/{hook}/secrets", headers=h)
    assert added.status_code == 201
    new = added.get_json()
    first = support.submit(suite, CHIYODA)
    headers, raw = wait_for(lambda: next(((hd, r) for hd, r in receiver.requests
                                          if json.loads(r)["data"]["application_id"] == first),
                                         None))
    assert Webhook(body["secret"]).verify(raw, headers)
    assert Webhook(new["secret"]).verify(raw, headers)

    assert suite.client.delete(f"/api/review/webhooks/{hook}/secrets/{body['secret_id']}",
                               headers=h).status_code == 204
    second = support.submit(suite, CHIYODA)
    headers, raw = wait_for(lambda: next(((hd, r) for hd, r in receiver.requests
                                          if json.loads(r)["data"]["application_id"] == second),
                                         None))
    assert Webhook(new["secret"]).verify(raw, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(body["secret"]).verify(raw, headers)
    # The last active secret cannot be retired.
    last = suite.client.delete(f"/api/review/webhooks/{hook}/secrets/{new['id']}", headers=h)
    assert last.status_code == 409 and "シークレット" in last.get_json()["error"]["message"]


def test_redelivery_on_demand_sends_the_same_message_again(suite, hooks):
    body, receiver = hooks("demo-pref", events=["routed"])
    app_id = support.submit(suite, CHIYODA)
    wait_for(lambda: any(d["status"] == "delivered"
                         for d in deliveries(suite, "demo-pref", body["id"])))
    delivery = deliveries(suite, "demo-pref", body["id"])[0]
    res = suite.client.post(
        f"/api/review/webhooks/{body['id']}/deliveries/{delivery['id']}/redeliver",
        headers=suite.headers("demo-pref"))
    assert res.status_code == 202
    wait_for(lambda: len(receiver.events(app_id)) == 2, what="redelivery")
    assert {h["webhook-id"] for h, _ in receiver.requests} == {delivery["id"]}
    again = deliveries(suite, "demo-pref", body["id"])[0]
    wait_for(lambda: deliveries(suite, "demo-pref", body["id"])[0]["attempts"] == 2)
    assert again["id"] == delivery["id"]
    # Another organisation cannot redeliver it.
    other = suite.client.post(
        f"/api/review/webhooks/{body['id']}/deliveries/{delivery['id']}/redeliver",
        headers=suite.headers(OSAKA))
    assert other.status_code == 404


def test_a_delivery_whose_worker_died_mid_post_is_sent_again_after_its_lease(
        suite, hooks, monkeypatch):
    """A worker killed between claiming a delivery and recording the attempt leaves it
    'sending': nothing happens while the lease runs, and once it expires the periodic
    task queues it again."""
    import datetime as dt
    import time

    from shared.db import utcnow

    monkeypatch.setattr(review_webhooks, "RETRY_BASE_SECONDS", 3600)
    body, receiver = hooks("demo-pref", events=["routed"], statuses=[500])
    app_id = support.submit(suite, CHIYODA)
    wait_for(lambda: (deliveries(suite, "demo-pref", body["id"]) or [{}])[0].get("attempts") == 1,
             what="first failed attempt")

    def set_claimed(lease_ends):
        with suite.ctx("review").transaction() as session:
            d = session.scalar(select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == body["id"]))
            d.status, d.next_attempt_at = "sending", lease_ends

    set_claimed(utcnow() + dt.timedelta(hours=1))   # claimed by a worker that then died
    time.sleep(1.5)                                  # three periodic ticks
    assert deliveries(suite, "demo-pref", body["id"])[0]["status"] == "sending"
    assert len(receiver.requests) == 1
    set_claimed(utcnow())                            # the lease has run out
    wait_for(lambda: deliveries(suite, "demo-pref", body["id"])[0]["status"] == "delivered",
             timeout=90, what="delivery after lease expiry")
    assert len(receiver.events(app_id)) == 2
    assert deliveries(suite, "demo-pref", body["id"])[0]["attempts"] == 2
