"""An applicant withdraws before the final decision: intake marks it withdrawn, review
closes the case (decisions are refused from then on), matching is told, reviewers'
systems get a ``withdrawn`` event."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.intake.models import Application
from services.review.models import ReviewEvent
from tests.conftest import Suite, wait_for
from tests.review import support as review
from tests.review.test_webhooks import Receiver
from tests.test_lifecycle_embedded import decide, prepare_submitted


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("intake-withdraw") / "var")
    yield s
    s.close()


def withdraw(suite, app_id, login="demo-applicant"):
    return suite.client.post(f"/api/intake/applications/{app_id}/withdraw",
                             headers=suite.headers(login))


def outbox_payloads(suite, message_type):
    ctx = suite.ctx("intake")
    with ctx.transaction() as session:
        return [o.envelope["payload"] for o in session.scalars(select(ctx.Outbox))
                if o.envelope["type"] == message_type]


def test_withdrawal_under_review_closes_the_case_and_decisions_are_refused(suite):
    receiver = Receiver()
    hook = suite.client.post("/api/review/webhooks", json={"url": receiver.url,
                                                           "events": ["withdrawn"]},
                             headers=suite.headers("demo-pref")).get_json()
    try:
        app_id = prepare_submitted(suite)
        suite.wait_status(app_id, "primary_review")
        res = withdraw(suite, app_id)
        assert res.status_code == 200, res.get_json()
        assert res.get_json()["status"] == "withdrawn"
        wait_for(lambda: review.case(suite, app_id).status == "withdrawn", what="case closed")
        res = decide(suite, "demo-pref", app_id, "承認")
        assert res.status_code == 409
        assert app_id not in [i["application_id"] for i in review.queue(suite, "demo-pref")]
        wait_for(lambda: receiver.events(app_id), what="withdrawn webhook")
        assert receiver.events(app_id)[0]["type"] == "review.withdrawn"
        assert receiver.events(app_id)[0]["data"]["stage"] == "primary"
        app = suite.get_app(app_id)
        assert app["status"] == "withdrawn"
        assert app["history"][-1]["event"] == "withdrawn"
        assert app["history"][-1]["actor"]["login"] == "demo-applicant"
        with suite.ctx("review").transaction() as session:
            events = [e.event for e in session.scalars(select(ReviewEvent).where(
                ReviewEvent.application_id == app_id).order_by(ReviewEvent.id))]
        assert events == ["routed", "withdrawn"]
    finally:
        receiver.close()
        suite.client.delete(f"/api/review/webhooks/{hook['id']}",
                            headers=suite.headers("demo-pref"))


def test_matching_is_told_with_the_application_and_organisation_only(suite):
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    assert withdraw(suite, app_id).status_code == 200
    sent = [p for p in outbox_payloads(suite, "delegations.withdrawn")
            if p["application_id"] == app_id]
    assert sent == [{"application_id": app_id, "org_id": "131016"}]


def test_a_draft_is_withdrawn_without_troubling_review(suite):
    from tests import factories

    app_id = factories.create_application(suite.client, suite.headers("demo-applicant"))
    assert withdraw(suite, app_id).status_code == 200
    assert suite.get_app(app_id)["status"] == "withdrawn"
    assert not [p for p in outbox_payloads(suite, "application.withdrawn")
                if p["application_id"] == app_id]
    # A withdrawn application can no longer be edited or submitted.
    res = suite.client.post(f"/api/intake/applications/{app_id}/submit",
                            headers=suite.headers("demo-applicant"))
    assert res.status_code == 409


def test_withdrawing_twice_or_after_registration_is_409(suite):
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "registered")
    res = withdraw(suite, app_id)
    assert res.status_code == 409 and "取り下げできません" in res.get_json()["error"]["message"]
    assert suite.get_app(app_id)["status"] == "registered"

    draft = prepare_submitted(suite)
    assert withdraw(suite, draft).status_code == 200
    assert withdraw(suite, draft).status_code == 409


def test_another_organisation_cannot_withdraw(suite):
    app_id = prepare_submitted(suite)
    assert withdraw(suite, app_id, login="demo-boe").status_code == 404
    with suite.ctx("intake").transaction() as session:
        assert session.get(Application, app_id).status != "withdrawn"
