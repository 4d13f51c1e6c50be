"""The operator's schedule of phases, and overdue reminders: one per case and stage,
however often the periodic task runs, sent through the webhook event path."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from services.review.models import ReviewEvent
from services.review.periodic import tick
from services.review.schedule import PHASES, today
from tests.conftest import Suite, wait_for
from tests.review import support
from tests.review.support import CHIYODA
from tests.review.test_webhooks import Receiver


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("review-schedule") / "var",
              # the webhook receivers listen on this machine
              env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
    yield s
    s.close()


def put(suite, phases, login="demo-operator"):
    return suite.client.put("/api/review/schedule", json={"phases": phases},
                            headers=suite.headers(login))


def test_schedule_lists_every_phase_in_japanese(suite):
    res = suite.client.get("/api/review/schedule", headers=suite.headers("demo-applicant"))
    phases = res.get_json()["phases"]
    assert [p["phase"] for p in phases] == list(PHASES)
    assert [p["name"] for p in phases][:3] == [
        "アカウント発行申請", "アカウント発行申請 一次審査", "アカウント発行申請 二次審査"]
    assert {"接続申請", "一次審査", "二次審査", "マスタ整備", "配信"} <= {p["name"] for p in phases}


def test_operator_sets_phases_and_others_keep_theirs(suite):
    assert put(suite, [{"phase": "connection_request", "starts_on": "2027-01-05",
                        "ends_on": "2027-02-26"}]).status_code == 200
    assert put(suite, [{"phase": "distribution", "ends_on": "2027-06-30"}]).status_code == 200
    phases = {p["phase"]: p for p in suite.client.get(
        "/api/review/schedule", headers=suite.headers("demo-operator")).get_json()["phases"]}
    assert (phases["connection_request"]["starts_on"],
            phases["connection_request"]["ends_on"]) == ("2027-01-05", "2027-02-26")
    assert phases["distribution"]["ends_on"] == "2027-06-30"


@pytest.mark.parametrize("login", ["demo-pref", "demo-mic", "demo-applicant"])
def test_only_the_operator_sets_the_schedule(suite, login):
    assert put(suite, [{"phase": "primary", "ends_on": "2027-03-31"}], login).status_code == 403


def test_a_start_after_the_deadline_is_refused_at_the_deadline(suite):
    res = put(suite, [{"phase": "primary", "starts_on": "2027-04-01", "ends_on": "2027-03-31"}])
    assert res.status_code == 422
    assert "期限は開始日以降の日付にしてください。" in json.dumps(res.get_json(), ensure_ascii=False)


@pytest.mark.parametrize("phases", [
    [{"phase": "review", "ends_on": "2027-03-31"}],
    [{"phase": "primary", "ends_on": "2027/03/31"}],
    [{"phase": "primary", "starts_on": "2027-04-01", "ends_on": "2027-03-31"}],
    [{"phase": "primary", "ends_on": "2027-03-31"}, {"phase": "primary", "ends_on": "2027-04-30"}],
    [],
])
def test_a_bad_schedule_is_422_and_changes_nothing(suite, phases):
    before = suite.client.get("/api/review/schedule", headers=suite.headers("demo-operator"))
    res = put(suite, phases)
    assert res.status_code == 422
    assert any("\u3040" <= ch <= "\u9fff" for ch in json.dumps(res.get_json(), ensure_ascii=False))
    after = suite.client.get("/api/review/schedule", headers=suite.headers("demo-operator"))
    assert before.get_json() == after.get_json()


def overdue_events(suite, app_id):
    with suite.ctx("review").transaction() as session:
        return [(e.stage, e.org_id) for e in session.scalars(select(ReviewEvent).where(
            ReviewEvent.application_id == app_id, ReviewEvent.event == "overdue"))]


def test_one_overdue_reminder_per_case_and_stage_through_the_webhook_path(suite):
    receiver = Receiver()
    hook = suite.client.post("/api/review/webhooks", json={"url": receiver.url,
                                                           "events": ["overdue"]},
                             headers=suite.headers("demo-pref")).get_json()
    mic_receiver = Receiver()
    suite.client.post("/api/review/webhooks", json={"url": mic_receiver.url,
                                                    "events": ["overdue"]},
                      headers=suite.headers("demo-mic"))
    try:
        app_id = support.submit(suite, CHIYODA)
        yesterday = (today() - dt.timedelta(days=1)).isoformat()
        assert put(suite, [{"phase": "primary", "ends_on": yesterday},
                           {"phase": "secondary", "ends_on": yesterday}]).status_code == 200
        ctx = suite.ctx("review")
        for _ in range(3):   # as many ticks as you like (the worker ticks too)
            tick(ctx)
        wait_for(lambda: receiver.events(app_id), what="overdue webhook")
        assert overdue_events(suite, app_id) == [("primary", "130001")]

        assert support.decide(suite, "demo-pref", app_id).status_code == 201
        tick(ctx)
        tick(ctx)
        wait_for(lambda: mic_receiver.events(app_id), what="overdue webhook to MIC")
        assert overdue_events(suite, app_id) == [("primary", "130001"), ("secondary", "MIC")]
        tick(ctx)
        event = receiver.events(app_id)
        assert len(event) == 1 and event[0]["type"] == "review.overdue"
        assert event[0]["data"]["due"] == yesterday
        assert len(mic_receiver.events(app_id)) == 1
        history = suite.client.get(f"/api/review/applications/{app_id}",
                                   headers=suite.headers("demo-mic")).get_json()["history"]
        assert [h["event"] for h in history].count("overdue") == 2
    finally:
        receiver.close()
        mic_receiver.close()
        suite.client.delete(f"/api/review/webhooks/{hook['id']}", headers=suite.headers("demo-pref"))


def test_no_reminder_before_the_deadline(suite):
    assert put(suite, [{"phase": "primary", "ends_on": today().isoformat()}]).status_code == 200
    app_id = support.submit(suite, CHIYODA)
    tick(suite.ctx("review"))
    assert overdue_events(suite, app_id) == []
