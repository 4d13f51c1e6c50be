"""The audit log of every service, driven as users drive the suite: each state-changing
action through the HTTP API (or the task it starts) leaves an entry naming who (login,
role), which organisation, from which address, what and on what; operators read it
through the API and the pages; and every chain verifies afterwards."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from shared import audit
from shared.audit_web import target_label
from shared.jst import jst
from tests import factories
from tests.conftest import Suite, wait_for
from tests.master import approved
from tests.pages.support import client_for, text_of
from tests.review import support as review
from tests.review.test_webhooks import Receiver
from tests.test_lifecycle_embedded import decide, prepare_submitted

API = {"identity": "/api/auth/audit", "intake": "/api/intake/audit",
       "review": "/api/review/audit", "matching": "/api/matching/audit",
       "master": "/api/master/audit"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("audit") / "var",
              # webhook receivers and subscribers listen on this machine
              env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
    yield s
    s.close()


def entries(suite, service: str, **filters) -> list[dict]:
    res = suite.client.get(API[service], query_string=filters,
                           headers=suite.headers("demo-operator"))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["items"]


def entry(suite, service: str, action: str, **filters) -> dict:
    """The newest entry of ``action`` (waiting for it: tasks write some)."""
    return wait_for(lambda: next(iter(entries(suite, service, action=action, **filters)), None),
                    what=f"{service} audit entry {action}")


def who(e: dict) -> tuple:
    return e["actor"]["login"], e["actor"]["role"], e["actor"]["org"], e["address"]


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


# --- identity: logins and accounts ----------------------------------------------------------

def test_logins_succeeded_and_failed_are_recorded_with_the_client_address(suite):
    bad = suite.client.post("/api/auth/token", json={"login": "demo-pref",
                                                     "password": "not-the-password-1"},
                            **at("203.0.113.21"))
    assert bad.status_code == 401
    good = suite.client.post("/api/auth/token", json={"login": "demo-pref",
                                                      "password": factories.DEMO_PASSWORD},
                             **at("203.0.113.22"))
    assert good.status_code == 200
    failed = entry(suite, "identity", "login.failed", target="account:demo-pref")
    assert who(failed) == ("demo-pref", "anonymous", "", "203.0.113.21")
    assert failed["detail"] == {"outcome": "wrong_password", "channel": "api"}
    assert failed["subject_org"] == "130001"
    ok = entry(suite, "identity", "login.succeeded", target="account:demo-pref")
    assert who(ok) == ("demo-pref", "primary_reviewer", "130001", "203.0.113.22")
    unknown = suite.client.post("/api/auth/token", json={"login": "nobody-here",
                                                         "password": "whatever-it-is-1"},
                                **at("203.0.113.23"))
    assert unknown.status_code == 401
    assert entry(suite, "identity", "login.failed", actor="nobody-here")["detail"][
        "outcome"] == "unknown_login"


def test_an_operators_account_changes_are_recorded(suite):
    login = suite.add_user("audit-target", "131024", "applicant")
    created = entry(suite, "identity", "account.created", target=f"account:{login}")
    assert created["actor"]["login"] == "system" and created["subject_org"] == "131024"
    ops = {**suite.headers("demo-operator")}
    url = f"/api/auth/accounts/{login}"
    for body in ({"active": False}, {"active": True}, {"role": "forwarder"}):
        res = suite.client.patch(url, json=body, headers=ops, **at("198.51.100.5"))
        assert res.status_code == 200, res.get_json()
    assert suite.client.delete(f"{url}/sessions", headers=ops,
                               **at("198.51.100.5")).status_code == 204
    for action in ("account.disabled", "account.enabled", "account.role_changed",
                   "account.sessions_ended"):
        e = entry(suite, "identity", action, target=f"account:{login}")
        assert who(e) == ("demo-operator", "operator", "MIC", "198.51.100.5"), action
        assert e["subject_org"] == "131024"
    assert entry(suite, "identity", "account.role_changed", target=f"account:{login}")[
        "detail"] == {"from": "applicant", "to": "forwarder"}

    # A locked login name, unlocked by the operator.
    for _ in range(2):
        suite.client.post("/api/auth/token", json={"login": login, "password": "wrong-one-12"},
                          **at("203.0.113.40"))
    assert suite.client.delete(f"{url}/lock", headers=ops,
                               **at("198.51.100.6")).status_code == 204
    assert who(entry(suite, "identity", "account.unlocked", target=f"account:{login}")) == (
        "demo-operator", "operator", "MIC", "198.51.100.6")


def test_own_password_change_and_logout_are_recorded(suite):
    login = suite.add_user("audit-self", "131016", "applicant")
    token = suite.client.post("/api/auth/token", json={"login": login,
                                                       "password": factories.DEMO_PASSWORD})
    h = {"Authorization": f"Bearer {token.get_json()['token']}"}
    res = suite.client.put("/api/auth/password", headers=h, **at("198.51.100.7"), json={
        "current_password": factories.DEMO_PASSWORD, "new_password": "Kawa-semi 2026 aki"})
    assert res.status_code == 204, res.get_json()
    assert who(entry(suite, "identity", "password.changed", target=f"account:{login}")) == (
        login, "applicant", "131016", "198.51.100.7")
    token = suite.client.post("/api/auth/token", json={"login": login,
                                                       "password": "Kawa-semi 2026 aki"})
    h = {"Authorization": f"Bearer {token.get_json()['token']}"}
    assert suite.client.post("/api/auth/logout", headers=h,
                             **at("198.51.100.8")).status_code == 204
    assert who(entry(suite, "identity", "logout", target=f"account:{login}")) == (
        login, "applicant", "131016", "198.51.100.8")


# --- intake: applications, account requests, the registry -------------------------------------

def test_application_created_and_withdrawn_are_recorded(suite):
    h = suite.headers("demo-boe")
    res = suite.client.post("/api/intake/applications", json={"kind": "connection"},
                            headers=h, **at("198.51.100.11"))
    assert res.status_code == 201
    app_id = res.get_json()["id"]
    created = entry(suite, "intake", "application.created", target=f"application:{app_id}")
    assert who(created) == ("demo-boe", "applicant", "131016-BOE", "198.51.100.11")
    assert created["detail"]["kind"] == "connection" and created["subject_org"] == "131016-BOE"
    res = suite.client.post(f"/api/intake/applications/{app_id}/withdraw", headers=h,
                            json={"reason": "誤って作成したため"}, **at("198.51.100.12"))
    assert res.status_code == 200
    withdrawn = entry(suite, "intake", "application.withdrawn", target=f"application:{app_id}")
    assert who(withdrawn) == ("demo-boe", "applicant", "131016-BOE", "198.51.100.12")
    assert withdrawn["detail"]["reason"] == "誤って作成したため"


def test_an_account_request_is_recorded_as_an_anonymous_callers(suite):
    body = {"org": "012025", "login": "hakodate-audit",
            "requester": {"department": "総務部情報政策課", "title": "主査", "name": "函館 一郎",
                          "email": "joho@city.hakodate.example.jp", "phone": "0138-21-0000"}}
    res = suite.client.post("/api/intake/account-requests", json=body, **at("192.0.2.77"))
    assert res.status_code == 201, res.get_json()
    e = entry(suite, "intake", "account_request.filed", actor="hakodate-audit")
    assert who(e) == ("hakodate-audit", "anonymous", "012025", "192.0.2.77")
    assert e["detail"]["number"] == res.get_json()["number"]


def test_registry_changes_are_in_the_chained_log(suite):
    ops = suite.headers("demo-operator")
    res = suite.client.patch("/api/intake/organisations/012025",
                             json={"attributes": {"public_housing": True}}, headers=ops,
                             **at("198.51.100.13"))
    assert res.status_code == 200, res.get_json()
    e = entry(suite, "intake", "organisation.updated", target="organisation:012025")
    assert who(e) == ("demo-operator", "operator", "MIC", "198.51.100.13")
    assert e["detail"]["attributes"] == {"from": {}, "to": {"public_housing": True}}
    assert e["subject_org"] == "012025"
    # the organisation's own trail still has the whole before and after
    trail = suite.client.get("/api/intake/organisations/012025/audit", headers=ops).get_json()
    assert trail["items"][-1]["action"] == "updated"


# --- review: submissions, decisions, withdrawals, schedule, webhooks --------------------------

def test_submission_decision_and_withdrawal_are_recorded_where_they_happen(suite):
    app_id = prepare_submitted(suite)
    submitted = entry(suite, "intake", "application.submitted", target=f"application:{app_id}")
    assert who(submitted) == ("demo-applicant", "applicant", "131016", "127.0.0.1")
    suite.wait_status(app_id, "primary_review")
    res = suite.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={"result": "承認", "comment": "確認しました"},
                            headers=suite.headers("demo-pref"), **at("198.51.100.31"))
    assert res.status_code == 201, res.get_json()
    decided = entry(suite, "review", "decision.approved", target=f"application:{app_id}")
    assert who(decided) == ("demo-pref", "primary_reviewer", "130001", "198.51.100.31")
    assert decided["subject_org"] == "131016"
    assert decided["detail"]["stage"] == "primary" and decided["detail"]["result"] == "承認"
    suite.wait_status(app_id, "secondary_review")

    res = suite.client.post(f"/api/intake/applications/{app_id}/withdraw",
                            headers=suite.headers("demo-applicant"), json={"reason": "見直し"},
                            **at("198.51.100.32"))
    assert res.status_code == 202
    requested = entry(suite, "intake", "application.withdrawal_requested",
                      target=f"application:{app_id}")
    assert who(requested) == ("demo-applicant", "applicant", "131016", "198.51.100.32")
    # review decides the request in its task: the request and its outcome, by the applicant
    received = entry(suite, "review", "withdrawal.received", target=f"application:{app_id}")
    completed = entry(suite, "review", "withdrawal.completed", target=f"application:{app_id}")
    for e in (received, completed):
        assert who(e)[:3] == ("demo-applicant", "applicant", "131016")
    assert completed["detail"]["stage"] == "secondary"
    suite.wait_status(app_id, "withdrawn")
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 409
    assert entries(suite, "review", action="decision.*", target=f"application:{app_id}") == [
        decided]


def test_a_withdrawal_refused_after_the_final_decision_is_recorded(suite):
    """Review takes the request after the decision closed the case: refused, on record."""
    from services.review import cases

    app_id = review.submit(suite, review.CHIYODA)
    assert review.decide(suite, "demo-pref", app_id).status_code == 201
    assert review.decide(suite, "demo-mic", app_id, "承認", "了").status_code == 201
    ctx = suite.ctx("review")
    with ctx.transaction() as session:
        cases.withdraw(ctx, session, {"application_id": app_id, "round": 1,
                                      "actor": review.APPLICANT,
                                      "at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                      "reason": None})
    refused = entry(suite, "review", "withdrawal.refused", target=f"application:{app_id}")
    assert refused["detail"]["status"] == "approved"
    assert who(refused)[:2] == ("demo-applicant", "applicant")


def test_schedule_and_webhook_changes_are_recorded(suite):
    res = suite.client.put("/api/review/schedule", headers=suite.headers("demo-operator"),
                           json={"phases": [{"phase": "primary", "ends_on": "2027-03-31"}]},
                           **at("198.51.100.41"))
    assert res.status_code == 200, res.get_json()
    changed = entry(suite, "review", "schedule.changed")
    assert who(changed) == ("demo-operator", "operator", "MIC", "198.51.100.41")
    assert changed["detail"]["primary"]["to"] == [None, "2027-03-31"]

    receiver = Receiver()
    h = suite.headers("demo-pref")
    hook = suite.client.post("/api/review/webhooks", json={"url": receiver.url,
                                                           "events": ["routed"]},
                             headers=h, **at("198.51.100.42")).get_json()
    created = entry(suite, "review", "webhook.created", target=f"webhook:{hook['id']}")
    assert who(created) == ("demo-pref", "primary_reviewer", "130001", "198.51.100.42")
    assert created["detail"]["events"] == ["routed"]
    assert hook["secret"] not in str(created)
    added = suite.client.post(f"/api/review/webhooks/{hook['id']}/secrets", headers=h).get_json()
    assert suite.client.delete(f"/api/review/webhooks/{hook['id']}/secrets/{hook['secret_id']}",
                               headers=h).status_code == 204
    app_id = review.submit(suite, review.CHIYODA)
    deliveries = wait_for(lambda: [d for d in suite.client.get(
        f"/api/review/webhooks/{hook['id']}/deliveries", headers=h).get_json()["items"]
        if d["status"] == "delivered"], what="a delivered routed event")
    assert suite.client.post(
        f"/api/review/webhooks/{hook['id']}/deliveries/{deliveries[0]['id']}/redeliver",
        headers=h, **at("198.51.100.43")).status_code == 202
    assert suite.client.delete(f"/api/review/webhooks/{hook['id']}",
                               headers=h).status_code == 204
    target = f"webhook:{hook['id']}"
    assert entry(suite, "review", "webhook.secret_added", target=target)["detail"] == {
        "secret_id": added["id"]}
    assert entry(suite, "review", "webhook.secret_retired", target=target)["detail"] == {
        "secret_id": hook["secret_id"]}
    redelivered = entry(suite, "review", "webhook.redelivered", target=target)
    assert who(redelivered) == ("demo-pref", "primary_reviewer", "130001", "198.51.100.43")
    assert redelivered["detail"]["delivery"] == deliveries[0]["id"]
    assert entry(suite, "review", "webhook.deleted", target=target)["actor"]["login"] == "demo-pref"
    assert app_id


# --- master: publication mode, 配信, subscriptions ---------------------------------------------

def test_publication_mode_distribution_and_subscriptions_are_recorded(suite):
    ops = suite.headers("demo-operator")
    assert suite.client.put("/api/master/publication", json={"mode": "batched"}, headers=ops,
                            **at("198.51.100.51")).status_code == 200
    mode = entry(suite, "master", "publication.mode_changed")
    assert who(mode) == ("demo-operator", "operator", "MIC", "198.51.100.51")
    assert mode["detail"] == {"from": "immediate", "to": "batched"}

    receiver = Receiver()
    sub = suite.client.post("/api/master/subscriptions", json={"url": receiver.url,
                                                               "mode": "snapshot"},
                            headers=ops, **at("198.51.100.52")).get_json()
    created = entry(suite, "master", "subscription.created", target=f"subscription:{sub['id']}")
    assert who(created) == ("demo-operator", "operator", "MIC", "198.51.100.52")
    assert sub["secret"] not in str(created)

    body = approved.payload("131024")
    approved.send(suite, body)
    prepared = entry(suite, "master", "master.prepared",
                     target=f"application:{body['application_id']}")
    assert prepared["actor"]["login"] == "system" and prepared["subject_org"] == "131024"
    res = suite.client.post("/api/master/publications", headers=ops, **at("198.51.100.53"))
    assert res.status_code == 201, res.get_json()
    number = res.get_json()["number"]
    published = entry(suite, "master", "master.published", target=f"version:{number}")
    assert who(published) == ("demo-operator", "operator", "MIC", "198.51.100.53")
    assert published["detail"]["applications"] == 1

    ack = suite.client.post(f"/api/master/subscriptions/{sub['id']}/ack", headers=ops,
                            json={"version": number})
    assert ack.status_code == 200, ack.get_json()
    assert entry(suite, "master", "subscription.acknowledged",
                 target=f"subscription:{sub['id']}")["detail"]["version"] == number
    assert suite.client.delete(f"/api/master/subscriptions/{sub['id']}",
                               headers=ops).status_code == 204
    assert entry(suite, "master", "subscription.deleted",
                 target=f"subscription:{sub['id']}")["actor"]["login"] == "demo-operator"
    assert suite.client.put("/api/master/publication", json={"mode": "immediate"},
                            headers=ops).status_code == 200


# --- matching: answers to confirmation requests ------------------------------------------------

def test_a_confirmation_answer_is_recorded(tmp_path):
    from tests.matching.conftest import Matching, query

    matching = Matching(tmp_path / "var")
    try:
        matching.submit(1, "U131000001", queries=[query("5", ["131016"], "地方自治法第284条",
                                                        "○○一部事務組合規約")])
        (req,) = matching.client.get("/api/matching/confirmations",
                                     headers=matching.headers("131016")).get_json()["items"]
        res = matching.client.post(f"/api/matching/confirmations/{req['id']}",
                                   json={"answer": "異議", "reason": "規約が古い"},
                                   headers=matching.headers("131016"), **at("198.51.100.61"))
        assert res.status_code == 200, res.get_json()
        items = matching.client.get("/api/matching/audit", query_string={
            "action": "confirmation.answered"},
            headers=matching.headers("MIC", "operator")).get_json()["items"]
        (e,) = items
        assert who(e) == ("user-131016-applicant", "applicant", "131016", "198.51.100.61")
        assert e["target"] == f"confirmation:{req['id']}" and e["subject_org"] == "U131000001"
        assert e["detail"]["answer"] == "disputed" and e["detail"]["reason"] == "規約が古い"
        with matching.ctx.db.transaction() as session:
            assert audit.verify(session, matching.ctx.Audit).ok
    finally:
        matching.runtime.close()


# --- reading the log ---------------------------------------------------------------------------

@pytest.mark.parametrize("login", ["demo-applicant", "demo-pref", "demo-mic", "demo-forwarder"])
def test_only_operators_read_the_log(suite, login):
    for path in API.values():
        res = suite.client.get(path, headers=suite.headers(login))
        assert res.status_code == 403, path
    assert suite.client.get("/api/review/audit").status_code == 401


def test_the_api_filters_and_pages_newest_first(suite):
    suite.client.post("/api/auth/token", json={"login": "demo-mic", "password": "wrong-pass-99"},
                      **at("203.0.113.90"))
    everything = entries(suite, "identity", limit="200")
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs, reverse=True)
    first = suite.client.get(API["identity"], query_string={"limit": "2"},
                             headers=suite.headers("demo-operator")).get_json()
    assert [e["seq"] for e in first["items"]] == seqs[:2]
    second = entries(suite, "identity", limit="2", before=str(first["next_before"]))
    assert [e["seq"] for e in second] == seqs[2:4]
    assert {e["action"] for e in entries(suite, "identity", action="login.*")} <= {
        "login.succeeded", "login.failed"}
    assert {e["actor"]["login"] for e in entries(suite, "identity", actor="demo-mic")} == {
        "demo-mic"}
    by_org = entries(suite, "identity", org="MIC")
    assert by_org and all("MIC" in (e["actor"]["org"], e["subject_org"]) for e in by_org)
    assert [e["address"] for e in entries(suite, "identity", target="account:demo-mic",
                                          action="login.failed")][:1] == ["203.0.113.90"]
    today = jst(dt.datetime.now(dt.timezone.utc))[:10]
    assert len(entries(suite, "identity", limit="200", **{"from": today, "to": today})) == len(
        [e for e in everything if jst(e["at"])[:10] == today])
    assert entries(suite, "identity", to="2001-01-01") == []
    bad = suite.client.get(API["identity"], query_string={"from": "yesterday"},
                           headers=suite.headers("demo-operator"))
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["location"] == "from"


def test_the_page_shows_the_log_in_japan_time_to_operators_only(suite):
    ops = client_for(suite, "demo-operator")
    home = text_of(ops.get("/review/"))
    assert 'href="/intake/audit"' in home and "監査ログ" in home
    res = ops.get("/review/audit", query_string={"action": "decision.approved"})
    assert res.status_code == 200
    html = text_of(res)
    assert "監査ログ（審査）" in html and "日時 (JST)" in html and "審査 承認" in html
    newest = entries(suite, "review", action="decision.approved")[0]
    # the target and the detail in Japanese: no JSON, no action code, no field names
    assert jst(newest["at"]) in html and target_label(newest["target"]) in html
    assert "申請ID " in html and "コメント" in html
    shown = re.sub(r"<[^>]+>", " ", html)
    assert "decision.approved" not in shown and "{&#34;" not in shown
    assert "application:" not in shown
    for path in ("/intake/audit", "/matching/audit", "/master/audit", "/auth/audit"):
        assert ops.get(path).status_code == 200, path
        assert f'href="{path}"' in html
    bad = ops.get("/auth/audit", query_string={"to": "31/12/2026", "actor": "demo-mic"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in text_of(bad)
    # the error sits next to its field, which keeps what was typed
    assert re.search(r'<input type="text" id="f-to" name="to" value="31/12/2026"[^>]*'
                     r'aria-invalid="true" aria-describedby="f-to-error">', text_of(bad))
    assert 'id="f-to-error">日付は YYYY-MM-DD' in text_of(bad)
    assert 'name="actor" value="demo-mic"' in text_of(bad) and "to: " not in text_of(bad)
    assert client_for(suite, "demo-applicant").get("/review/audit").status_code == 403
    anonymous = suite.app.test_client().get("/review/audit")
    assert anonymous.status_code == 302 and "/auth/login" in anonymous.headers["Location"]


def test_every_chain_verifies_after_all_this(suite):
    for name, ctx in suite.runtime.services.items():
        with ctx.db.transaction() as session:
            verdict = audit.verify(session, ctx.Audit)
        assert verdict.ok, verdict.describe()
        assert verdict.entries > 0 or name == "matching", name
