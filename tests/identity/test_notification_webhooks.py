"""An applying organisation's own system gets its notices as signed Standard Webhooks
(registered like reviewers' webhooks, for notification kinds only)."""
from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import Suite, wait_for
from tests.review.support import CHIYODA, decide, submit
from tests.review.test_webhooks import Receiver

SYSTEM = "chiyoda-system"


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("notice-webhooks") / "var",
              env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
    s.add_user(SYSTEM, "131016", "applicant")
    yield s
    s.close()


def test_an_applicant_webhook_gets_a_signed_return_notice(suite):
    receiver = Receiver()
    try:
        res = suite.client.post("/api/review/webhooks", headers=suite.headers(SYSTEM),
                                json={"url": receiver.url, "events": ["returned", "approved"]})
        assert res.status_code == 201, res.get_json()
        secret = res.get_json()["secret"]
        app_id = submit(suite, CHIYODA)
        assert decide(suite, "demo-pref", app_id, "否認", "理由: 様02-01 が空欄").status_code == 201
        headers, body = wait_for(lambda: [r for r in receiver.requests
                                          if json.loads(r[1])["data"].get("application_id") == app_id],
                                 what="the notice delivery")[0]
        event = Webhook(secret).verify(body, {k: headers[k] for k in
                                              ("webhook-id", "webhook-timestamp", "webhook-signature")})
        assert event["type"] == "notification.returned"
        data = event["data"]
        assert data["org_id"] == "131016" and data["org_name"] == "東京都千代田区"
        assert data["number"] == f"2026-{app_id:06d}" and data["comment"] == "理由: 様02-01 が空欄"
        assert data["stage"] == "primary"
    finally:
        receiver.close()


def test_applicants_may_subscribe_only_to_notices_and_reviewers_only_to_review_events(suite):
    res = suite.client.post("/api/review/webhooks", headers=suite.headers(SYSTEM),
                            json={"url": "https://example.jp/hook", "events": ["decided"]})
    assert res.status_code == 422
    assert "decided は指定できません" in json.dumps(res.get_json(), ensure_ascii=False)
    res = suite.client.post("/api/review/webhooks", headers=suite.headers("demo-pref"),
                            json={"url": "https://example.jp/hook", "events": ["returned"]})
    assert res.status_code == 422
