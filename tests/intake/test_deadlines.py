"""Deadlines for applicants (issue 13 point 6): review publishes the schedule to intake,
the applicants' dashboard shows the current phase and its deadline, acting after the
end of a phase the guide closes is refused with the phase and its end date, and an
operator allows a late application (per organisation or per application) on the record."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from services.intake.deadlines import japanese_date, today
from services.intake.models import Application, LateAllowance
from tests import factories
from tests.conftest import Suite, wait_for
from tests.intake.test_account_requests import post_request, request_body
from tests.pages.support import client_for, post_form, text_of


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("deadlines") / "var")
    yield suite
    suite.close()


def days(n: int) -> dt.date:
    return today() + dt.timedelta(days=n)


def set_phase(s, phase: str, ends_on: dt.date, starts_on: dt.date | None = None) -> None:
    """Set one phase at review and wait until intake has its copy."""
    res = s.client.put("/api/review/schedule", headers=s.headers("demo-operator"), json={
        "phases": [{"phase": phase, "ends_on": ends_on.isoformat(),
                    "starts_on": starts_on.isoformat() if starts_on else None}]})
    assert res.status_code == 200, res.get_json()

    def arrived():
        got = s.client.get("/api/intake/schedule", headers=s.headers("demo-applicant")).get_json()
        return any(p["phase"] == phase and p["ends_on"] == ends_on.isoformat()
                   for p in got["phases"])
    wait_for(arrived, what=f"{phase} published to intake")


def drafted(s) -> int:
    """A draft with every required form valid, ready to submit."""
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    factories.put_forms(s.client, h, app_id, factories.all_forms())
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id)["forms"].values()),
             what="forms validated")
    return app_id


def submit(s, app_id: int):
    return s.client.post(f"/api/intake/applications/{app_id}/submit",
                         headers=s.headers("demo-applicant"))


def allow(s, login="demo-operator", **body):
    return s.client.post("/api/intake/late-allowances", json=body, headers=s.headers(login))


def audit_actions(s, target: str) -> list[str]:
    res = s.client.get("/api/intake/audit", query_string={"target": target},
                       headers=s.headers("demo-operator"))
    assert res.status_code == 200, res.get_json()
    return [e["action"] for e in res.get_json()["items"]]


def test_the_dashboard_shows_the_current_phase_and_its_deadline_in_japan_time(s):
    set_phase(s, "connection_request", days(10), days(-3))
    set_phase(s, "primary", days(40), days(11))
    body = s.client.get("/api/intake/schedule", headers=s.headers("demo-applicant")).get_json()
    assert [p["phase"] for p in body["current"]] == ["connection_request"]
    assert {p["phase"]: p["state"] for p in body["phases"]}["primary"] == "upcoming"

    html = text_of(client_for(s, "demo-applicant").get("/applicant/"))
    assert (f"現在の工程: <strong>接続申請</strong>（期限 {japanese_date(days(10))}まで）"
            in html)
    assert "<caption>工程（日付は日本時間）</caption>" in html
    assert re.search(r"<td>一次審査</td><td>[^<]+</td>\s*<td>" + re.escape(japanese_date(days(40), False))
                     + r"</td>\s*<td>開始前</td>", html)


def test_submitting_after_the_connection_phase_is_refused_with_its_name_and_end_date(s):
    app_id = drafted(s)
    set_phase(s, "connection_request", days(-1), days(-30))
    res = submit(s, app_id)
    assert res.status_code == 409, res.get_json()
    error = res.get_json()["error"]
    assert error["code"] == "phase_closed"
    assert error["message"].startswith(f"「接続申請」の期間は {japanese_date(days(-1))} に終了しました。")
    app = s.get_app(app_id)
    assert (app["status"], app["round"]) == ("draft", 0)
    assert "submit_requested" not in [h["event"] for h in app["history"]]

    # the page says the same, on the application's page
    client = client_for(s, "demo-applicant")
    page = f"/applicant/applications/{app_id}"
    res = post_form(client, page, f"{page}/submit", follow_redirects=True)
    assert f"「接続申請」の期間は {japanese_date(days(-1))} に終了しました。" in text_of(res)


def test_an_allowance_for_one_application_lets_it_be_submitted_on_the_record(s):
    app_id = drafted(s)
    set_phase(s, "connection_request", days(-1), days(-30))
    assert submit(s, app_id).status_code == 409
    res = allow(s, application_id=app_id, phase="connection_request", reason="災害対応のため")
    assert res.status_code == 201, res.get_json()
    allowance = res.get_json()
    assert (allowance["application_id"], allowance["org"]) == (app_id, None)
    assert allowance["granted_by"]["login"] == "demo-operator"

    assert submit(s, app_id).status_code == 202
    s.wait_status(app_id, "primary_review")
    events = {h["event"]: h for h in s.get_app(app_id)["history"]}
    assert "災害対応のため" in events["late_allowed"]["comment"]
    assert events["late_accepted"]["actor"]["login"] == "demo-applicant"
    actions = audit_actions(s, f"application:{app_id}")
    assert {"late_allowance.granted", "late_allowance.used"} <= set(actions)
    html = text_of(client_for(s, "demo-applicant").get(f"/applicant/applications/{app_id}"))
    assert "期限後の受付を許可" in html and "災害対応のため" in html


def test_an_allowance_for_one_application_does_not_open_the_phase_for_another(s):
    set_phase(s, "connection_request", days(-1), days(-30))
    first = drafted(s)
    assert allow(s, application_id=first, phase="connection_request",
                 reason="個別の事情").status_code == 201
    factories.withdraw_open(s.client, s.headers("demo-applicant"))
    second = drafted(s)
    assert submit(s, second).status_code == 409


def test_an_account_request_after_its_period_is_refused_until_the_organisation_is_allowed(s):
    set_phase(s, "account_request", days(-2))
    res = post_request(s, request_body(org="012025", login="hakodate-late"))
    assert res.status_code == 409, res.get_json()
    assert res.get_json()["error"]["message"].startswith(
        f"「アカウント発行申請」の期間は {japanese_date(days(-2))} に終了しました。")
    with s.ctx("intake").transaction() as session:
        assert session.scalar(select(Application.id).where(
            Application.org_id == "012025", Application.kind == "account")) is None

    res = allow(s, org="012025", phase="account_request", reason="新設の部署のため")
    assert res.status_code == 201, res.get_json()
    assert "late_allowance.granted" in audit_actions(s, "org:012025")
    res = post_request(s, request_body(org="012025", login="hakodate-late"))
    assert res.status_code == 201, res.get_json()
    # another organisation is still refused
    assert post_request(s, request_body(org="011002", login="sapporo-late")).status_code == 409


@pytest.mark.parametrize("body,login,status", [
    ({"phase": "connection_request", "reason": "理由"}, "demo-operator", 422),
    ({"phase": "connection_request", "org": "131016", "application_id": 1, "reason": "理由"},
     "demo-operator", 422),
    ({"phase": "connection_request", "org": "999999", "reason": "理由"}, "demo-operator", 422),
    ({"phase": "primary", "org": "131016", "reason": "理由"}, "demo-operator", 422),
    ({"phase": "connection_request", "org": "131016", "reason": ""}, "demo-operator", 422),
    ({"phase": "connection_request", "org": "131016", "reason": "理由"}, "demo-applicant", 403),
])
def test_a_bad_allowance_is_refused_in_japanese_and_stores_nothing(s, body, login, status):
    with s.ctx("intake").transaction() as session:
        before = session.scalar(select(LateAllowance.id).order_by(LateAllowance.id.desc()).limit(1))
    res = allow(s, login=login, **body)
    assert res.status_code == status, res.get_json()
    assert re.search(r"[ぁ-んァ-ン一-龥]", str(res.get_json()["error"]))
    with s.ctx("intake").transaction() as session:
        after = session.scalar(select(LateAllowance.id).order_by(LateAllowance.id.desc()).limit(1))
    assert before == after


def test_the_operator_allows_an_organisation_from_the_page(s):
    client = client_for(s, "demo-operator")
    page = "/late-allowances"
    res = post_form(client, page, page, {"phase": "connection_request", "org": "999999",
                                         "reason": "理由"})
    assert res.status_code == 422
    assert "機関「999999」は機関マスタにありません。" in text_of(res)
    res = post_form(client, page, page, {"phase": "connection_request", "org": "131016",
                                         "number": "2026-000001", "reason": "理由"})
    assert res.status_code == 422
    assert "どちらか一方" in text_of(res)
    res = post_form(client, page, page, {"phase": "connection_request", "org": "131016",
                                         "reason": "システム更改のため"}, follow_redirects=True)
    assert res.status_code == 200
    html = text_of(res)
    assert "期限後の受付を許可しました" in html
    assert re.search(r"<td>[^<]*千代田区[^<]*（131016）</td>\s*<td>システム更改のため</td>", html)
    assert "日時（日本時間）" in html


def test_the_operator_allows_one_application_by_its_number_from_the_page(s):
    set_phase(s, "connection_request", days(-1), days(-30))
    app_id = drafted(s)
    number = s.get_app(app_id)["number"]
    client = client_for(s, "demo-operator")
    res = post_form(client, "/late-allowances", "/late-allowances",
                    {"phase": "connection_request", "number": number, "reason": "個別の事情"},
                    follow_redirects=True)
    assert res.status_code == 200 and f"申請 {number}" in text_of(res)
    newest = s.client.get("/api/intake/late-allowances",
                          headers=s.headers("demo-operator")).get_json()["items"][0]
    assert (newest["application_id"], newest["org"], newest["reason"]) == (app_id, None, "個別の事情")
    assert submit(s, app_id).status_code == 202


def test_a_submission_refused_by_the_pre_submission_check_does_not_open_the_phase(suite):
    """Round 1 ended in 下書き (the whole-application check refused it) before the
    phase closed: submitting again after the end is still a first submission, refused.
    (A suite of its own: the module's suite has allowances for the organisation.)"""
    from services.intake.applications import history

    s = suite
    app_id = drafted(s)
    with s.ctx("intake").transaction() as session:
        app = session.get(Application, app_id)
        app.round = 1
        history(session, app, "submit_requested")
        history(session, app, "validation_failed")
    set_phase(s, "connection_request", days(-1), days(-30))
    res = submit(s, app_id)
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "phase_closed"
    assert s.get_app(app_id)["status"] == "draft"
