"""Distribution: subscribers receive each published version, signed per Standard Webhooks
(verified here with the reference library), as a snapshot or as the diff since the
version they acknowledged; failures are retried with growing delays and logged.

One scenario serves the module: three receivers on 127.0.0.1 — ``flaky`` (snapshot; fails
twice, then accepts), ``steady`` (diff) and ``dead`` (diff; always fails, so it is given
up after the attempt limit, then unsubscribed). Version 1 (千代田区) is published,
``steady`` acknowledges it, version 2 (中央区) is published, and a ``late`` subscriber
joins after that."""
from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook

from shared import outbound

from tests.conftest import Suite, wait_for
from tests.master import approved
from tests.master.approved import api
from tests.master.receivers import Receiver, signed

RETRY_BASE = 0.3
MAX_ATTEMPTS = 3


def subscribe(suite: Suite, url: str, mode: str) -> dict:
    res = api(suite, "post", "/api/master/subscriptions", json={"url": url, "mode": mode})
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def log_of(suite: Suite, sub: dict) -> list[dict]:
    res = api(suite, "get", f"/api/master/subscriptions/{sub['id']}/deliveries")
    assert res.status_code == 200, res.get_json()
    return res.get_json()["items"]


def status_of(suite: Suite, sub: dict, version: int) -> str | None:
    return next((d["status"] for d in log_of(suite, sub) if d["version"] == version), None)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NWS_MASTER_RETRY_BASE", str(RETRY_BASE))
        mp.setenv("NWS_MASTER_RETRY_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
        receivers = {"flaky": Receiver(fail_first=2), "steady": Receiver(),
                     "dead": Receiver(fail_first=None, fail_status=500), "late": Receiver()}
        suite = Suite(tmp_path_factory.mktemp("distribution") / "var",
                      # the receivers listen on this machine
                      env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
        try:
            subs = {"flaky": subscribe(suite, receivers["flaky"].url, "snapshot"),
                    "steady": subscribe(suite, receivers["steady"].url, "diff"),
                    "dead": subscribe(suite, receivers["dead"].url, "diff")}
            approved.register(suite, approved.payload("131016"), 1)
            for name in ("flaky", "steady"):
                wait_for(lambda: status_of(suite, subs[name], 1) == "delivered",
                         what=f"{name} delivered v1")
            wait_for(lambda: status_of(suite, subs["dead"], 1) == "failed", what="dead gave up")
            body = json.dumps({"version": 1}).encode()
            ack = suite.client.post(f"/api/master/subscriptions/{subs['steady']['id']}/ack",
                                    data=body, content_type="application/json",
                                    headers=signed(subs["steady"]["secret"], body))
            assert ack.status_code == 200, ack.get_json()
            assert api(suite, "delete",
                       f"/api/master/subscriptions/{subs['dead']['id']}").status_code == 204
            approved.register(suite, approved.payload("131024"), 2)
            for name in ("flaky", "steady"):
                wait_for(lambda: status_of(suite, subs[name], 2) == "delivered",
                         what=f"{name} delivered v2")
            subs["late"] = subscribe(suite, receivers["late"].url, "snapshot")
            wait_for(lambda: status_of(suite, subs["late"], 2) == "delivered",
                     what="late subscriber delivered v2")
            yield {"suite": suite, "receivers": receivers, "subs": subs,
                   "v1": api(suite, "get", "/api/master/versions/1").get_json(),
                   "v2": api(suite, "get", "/api/master/versions/2").get_json(),
                   "diff_1_2": api(suite, "get", "/api/master/versions/2/diff?from=1").get_json(),
                   "diff_0_1": api(suite, "get", "/api/master/versions/1/diff?from=0").get_json(),
                   "logs": {n: log_of(suite, s) for n, s in subs.items()}}
        finally:
            suite.close()
            for r in receivers.values():
                r.stop()


# --- subscribing ------------------------------------------------------------------------

def test_subscribing_returns_an_id_and_a_standard_webhooks_secret(scenario):
    for sub in scenario["subs"].values():
        assert isinstance(sub["id"], int)
        assert sub["secret"].startswith("whsec_")
        Webhook(sub["secret"])  # the reference library accepts it
    listed = api(scenario["suite"], "get", "/api/master/subscriptions").get_json()["items"]
    assert [s["id"] for s in listed] == [scenario["subs"][n]["id"]
                                         for n in ("flaky", "steady", "late")]
    assert all("secret" not in s for s in listed)


@pytest.mark.parametrize("body,field", [
    ({"url": "ftp://example.jp/x", "mode": "diff"}, "url"),
    ({"url": "example.jp", "mode": "diff"}, "url"),
    ({"url": "https://example.jp/x", "mode": "full"}, "mode"),
    ({"url": "https://example.jp/x"}, "mode"),
])
def test_a_bad_subscription_is_422_saying_which_field(scenario, body, field):
    suite = scenario["suite"]
    before = api(suite, "get", "/api/master/subscriptions").get_json()
    res = api(suite, "post", "/api/master/subscriptions", json=body)
    assert res.status_code == 422, res.get_json()
    assert list(res.get_json()["error"]["details"]) == [field]
    assert api(suite, "get", "/api/master/subscriptions").get_json() == before


@pytest.mark.parametrize("login", ["demo-mic", "demo-applicant"])
def test_only_operators_subscribe(scenario, login):
    res = api(scenario["suite"], "post", "/api/master/subscriptions", login,
              json={"url": "https://example.jp/x", "mode": "diff"})
    assert res.status_code == 403


# --- deliveries -------------------------------------------------------------------------

def test_every_delivery_verifies_with_the_reference_library(scenario):
    for name in ("flaky", "steady", "late"):
        secret = scenario["subs"][name]["secret"]
        for req in scenario["receivers"][name].requests:
            assert Webhook(secret).verify(req["body"], req["headers"])["type"].startswith(
                "master.")
        other = scenario["subs"]["steady" if name != "steady" else "flaky"]["secret"]
        with pytest.raises(Exception):
            Webhook(other).verify(req["body"], req["headers"])


def test_a_failing_subscriber_is_retried_with_growing_delays_until_it_accepts(scenario):
    flaky = scenario["receivers"]["flaky"].requests
    first_version = [r for r in flaky if json.loads(r["body"])["version"]["number"] == 1]
    assert len(first_version) == 3
    assert len({r["headers"]["webhook-id"] for r in first_version}) == 1  # the same message
    gaps = [b["at"] - a["at"] for a, b in zip(first_version, first_version[1:])]
    assert gaps[0] >= RETRY_BASE * 0.9 and gaps[1] >= 2 * RETRY_BASE * 0.9, gaps
    [v1] = [d for d in scenario["logs"]["flaky"] if d["version"] == 1]
    assert v1["status"] == "delivered" and v1["attempts"] == 3
    # The log tells the status class and a Japanese reason (never the exact answer).
    assert [(a["number"], a["ok"], a["status_class"]) for a in v1["log"]] == [
        (1, False, "5xx"), (2, False, "5xx"), (3, True, "2xx")]
    assert v1["log"][0]["error"] == outbound.REASONS["server_error"]
    assert v1["log"][2]["error"] is None


def test_a_snapshot_carries_the_whole_version_and_its_checksum(scenario):
    docs = scenario["receivers"]["flaky"].documents()
    v1, v2 = docs[2], docs[3]
    for doc, version in ((v1, scenario["v1"]), (v2, scenario["v2"])):
        assert doc["type"] == "master.snapshot"
        assert doc["checksum"] == version["checksum"] == doc["version"]["checksum"]
        assert doc["version"]["number"] == version["number"]
        assert doc["tables"] == version["tables"]


def test_a_diff_subscriber_gets_everything_first_then_the_diff_since_its_ack(scenario):
    first, second = scenario["receivers"]["steady"].documents()
    assert (first["type"], first["from"], first["version"]["number"]) == ("master.diff", 0, 1)
    assert first["tables"] == scenario["diff_0_1"]["tables"]
    assert first["base_checksum"] == "0" * 64
    assert (second["from"], second["version"]["number"]) == (1, 2)
    assert second["tables"] == scenario["diff_1_2"]["tables"]
    assert second["base_checksum"] == scenario["v1"]["checksum"]
    assert second["checksum"] == scenario["v2"]["checksum"]
    sub = api(scenario["suite"], "get",
              f"/api/master/subscriptions/{scenario['subs']['steady']['id']}").get_json()
    assert sub["acked_version"] == 1


def test_a_subscriber_that_never_accepts_is_given_up_after_the_attempt_limit(scenario):
    assert len(scenario["receivers"]["dead"].requests) == MAX_ATTEMPTS
    [v1] = scenario["logs"]["dead"]
    assert (v1["version"], v1["status"], v1["attempts"]) == (1, "failed", MAX_ATTEMPTS)
    assert [a["status_class"] for a in v1["log"]] == ["5xx"] * MAX_ATTEMPTS
    assert v1["last_error"] == outbound.REASONS["server_error"]


def test_an_unsubscribed_system_receives_nothing_more(scenario):
    assert all(json.loads(r["body"])["version"]["number"] == 1
               for r in scenario["receivers"]["dead"].requests)
    suite, sub = scenario["suite"], scenario["subs"]["dead"]
    res = api(suite, "get", f"/api/master/subscriptions/{sub['id']}")
    assert res.status_code == 200 and res.get_json()["active"] is False
    assert api(suite, "delete", f"/api/master/subscriptions/{sub['id']}").status_code == 404
    assert pull(suite, sub).status_code == 401


def test_a_new_subscriber_receives_the_current_version_at_once(scenario):
    [doc] = scenario["receivers"]["late"].documents()
    assert doc["version"]["number"] == 2
    assert doc["tables"] == scenario["v2"]["tables"]


def test_a_finished_delivery_is_not_sent_again(scenario):
    from services.master import distribution

    suite = scenario["suite"]
    [v2] = [d for d in scenario["logs"]["late"] if d["version"] == 2]
    before = len(scenario["receivers"]["late"].requests)
    assert distribution.attempt(suite.ctx("master"), v2["id"]).action == "done"
    assert len(scenario["receivers"]["late"].requests) == before


# --- acknowledgement ------------------------------------------------------------------

def ack(suite, sub, body: dict, headers: dict | None = None, secret: str | None = None):
    data = json.dumps(body).encode()
    if headers is None:
        headers = signed(secret or sub["secret"], data)
    return suite.client.post(f"/api/master/subscriptions/{sub['id']}/ack", data=data,
                             content_type="application/json", headers=headers)


def test_an_acknowledgement_with_another_checksum_is_409_and_changes_nothing(scenario):
    suite, sub = scenario["suite"], scenario["subs"]["late"]
    res = ack(suite, sub, {"version": 2, "checksum": "f" * 64})
    assert res.status_code == 409, res.get_json()
    assert res.get_json()["expected"] == scenario["v2"]["checksum"]
    assert "一致しません" in res.get_json()["error"]["message"]
    assert api(suite, "get", f"/api/master/subscriptions/{sub['id']}").get_json()[
        "acked_version"] is None


def test_an_acknowledgement_with_the_checksum_is_recorded(scenario):
    suite, sub = scenario["suite"], scenario["subs"]["late"]
    res = ack(suite, sub, {"version": 2, "checksum": scenario["v2"]["checksum"]})
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["acked_version"] == 2


@pytest.mark.parametrize("body,status", [({"version": 99}, 422), ({"version": "2"}, 422),
                                         ({}, 422), ({"version": 1, "checksum": "x"}, 422)])
def test_a_bad_acknowledgement_is_4xx(scenario, body, status):
    res = ack(scenario["suite"], scenario["subs"]["flaky"], body)
    assert res.status_code == status, res.get_json()


def test_an_acknowledgement_needs_the_subscriptions_signature_or_an_operator(scenario):
    suite, sub = scenario["suite"], scenario["subs"]["flaky"]
    assert ack(suite, sub, {"version": 1}, headers={}).status_code == 401
    other = scenario["subs"]["steady"]["secret"]
    res = ack(suite, sub, {"version": 1}, secret=other)
    assert res.status_code == 401
    assert res.get_json()["error"]["code"] == "invalid_signature"
    assert ack(suite, sub, {"version": 1},
               headers=suite.headers("demo-applicant")).status_code == 403
    res = ack(suite, sub, {"version": 1}, headers=suite.headers("demo-operator"))
    assert res.status_code == 200
    assert res.get_json()["acked_version"] == 1


# --- pull -----------------------------------------------------------------------------

def pull(suite, sub, query: str = "", headers: dict | None = None):
    return suite.client.get(f"/api/master/subscriptions/{sub['id']}/pull{query}",
                            headers=signed(sub["secret"]) if headers is None else headers)


def test_a_subscriber_pulls_the_newest_version_signed_like_a_delivery(scenario):
    suite, sub = scenario["suite"], scenario["subs"]["flaky"]
    res = pull(suite, sub)
    assert res.status_code == 200, res.get_json()
    doc = Webhook(sub["secret"]).verify(res.data, dict(res.headers))
    assert doc["type"] == "master.snapshot"
    assert doc["tables"] == scenario["v2"]["tables"]


def test_a_pull_in_diff_form_starts_from_the_given_version(scenario):
    suite, sub = scenario["suite"], scenario["subs"]["steady"]
    doc = pull(suite, sub, "?from=1").get_json()
    assert (doc["type"], doc["from"]) == ("master.diff", 1)
    assert doc["tables"] == scenario["diff_1_2"]["tables"]
    doc = pull(suite, sub, "?mode=snapshot&version=1").get_json()
    assert doc["tables"] == scenario["v1"]["tables"]


@pytest.mark.parametrize("query", ["?from=x", "?mode=all", "?version=-1"])
def test_a_bad_pull_is_422(scenario, query):
    assert pull(scenario["suite"], scenario["subs"]["steady"], query).status_code == 422


def test_a_pull_of_an_unknown_version_is_404(scenario):
    assert pull(scenario["suite"], scenario["subs"]["steady"], "?version=9").status_code == 404


def test_a_pull_needs_the_subscriptions_signature(scenario):
    suite, sub = scenario["suite"], scenario["subs"]["steady"]
    assert pull(suite, sub, headers={}).status_code == 401
    assert pull(suite, sub, headers=signed(scenario["subs"]["flaky"]["secret"])).status_code == 401
    assert pull(suite, sub, headers=suite.headers("demo-mic")).status_code == 403
    assert pull(suite, sub, headers=suite.headers("demo-operator")).status_code == 200
