"""An applicant withdraws before the final decision. The service that owns the
application decides: intake withdraws a draft or returned application at once; once
submitted, the withdrawal is a request that review serialises with the reviewers'
decisions on the case row (a decision that came first wins; an approved application is
never withdrawn). Matching is told, reviewers' systems get a ``withdrawn`` event."""
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
    s = Suite(tmp_path_factory.mktemp("intake-withdraw") / "var",
              # the webhook receiver listens on this machine
              env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
    yield s
    s.close()


def withdraw(suite, app_id, login="demo-applicant", reason=None):
    return suite.client.post(f"/api/intake/applications/{app_id}/withdraw",
                             headers=suite.headers(login),
                             json={"reason": reason} if reason is not None else None)


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
        res = withdraw(suite, app_id, reason="申請内容を見直すため")
        # review owns the application now: the withdrawal is requested, then confirmed
        assert res.status_code == 202, res.get_json()
        assert res.get_json()["status"] == "primary_review"
        assert res.get_json()["withdrawal_requested"] is True
        assert withdraw(suite, app_id).status_code == 409     # requested once is enough
        wait_for(lambda: review.case(suite, app_id).status == "withdrawn", what="case closed")
        suite.wait_status(app_id, "withdrawn")
        res = decide(suite, "demo-pref", app_id, "承認")
        assert res.status_code == 409
        assert app_id not in [i["application_id"] for i in review.queue(suite, "demo-pref")]
        wait_for(lambda: receiver.events(app_id), what="withdrawn webhook")
        assert receiver.events(app_id)[0]["type"] == "review.withdrawn"
        assert receiver.events(app_id)[0]["data"]["stage"] == "primary"
        app = suite.get_app(app_id)
        assert app["status"] == "withdrawn" and app["withdrawal_requested"] is False
        events = [h["event"] for h in app["history"]]
        assert events[-2:] == ["withdrawal_requested", "withdrawn"]
        assert app["history"][-1]["actor"]["login"] == "demo-applicant"
        assert app["history"][-1]["comment"] == "申請内容を見直すため"
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
    assert withdraw(suite, app_id).status_code == 202
    suite.wait_status(app_id, "withdrawn")
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
    suite.add_user("chuo-applicant", "131024", "applicant")
    app_id = prepare_submitted(suite, login="chuo-applicant", org="131024")
    suite.wait_status(app_id, "primary_review", login="chuo-applicant")
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review", login="chuo-applicant")
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "registered", login="chuo-applicant")
    res = withdraw(suite, app_id, login="chuo-applicant")
    assert res.status_code == 409 and "取り下げできません" in res.get_json()["error"]["message"]
    assert suite.get_app(app_id, "chuo-applicant")["status"] == "registered"

    from tests import factories

    draft = factories.create_application(suite.client, suite.headers("demo-applicant"))
    assert withdraw(suite, draft).status_code == 200
    assert withdraw(suite, draft).status_code == 409


def test_a_withdrawal_reaching_review_after_the_final_approval_is_refused(suite):
    """総務省 approves while the applicant's withdrawal is on its way (the review worker
    has not taken it yet): the approval stands, the application is registered, never
    withdrawn, and the applicant's history says the withdrawal was refused."""
    suite.add_user("minato-applicant", "131032", "applicant")
    login = "minato-applicant"
    app_id = prepare_submitted(suite, login=login, org="131032")
    suite.wait_status(app_id, "primary_review", login=login)
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review", login=login)
    # Approve first (the HTTP decision commits), then deliver the withdrawal request as
    # review would receive it had it been sent a moment before the approval.
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 201
    ctx = suite.ctx("intake")
    with ctx.transaction() as session:
        app = session.get(Application, app_id)
        ctx.emit(session, "review", "application.withdrawn", {
            "application_id": app_id, "round": app.round, "actor": None,
            "at": "2026-12-02T00:00:00+00:00", "reason": None})
    app = suite.wait_status(app_id, "registered", login=login)
    wait_for(lambda: "withdrawal_refused" in [h["event"] for h in
                                             suite.get_app(app_id, login)["history"]],
             what="refusal reported")
    assert suite.get_app(app_id, login)["status"] == "registered"
    assert review.case(suite, app_id).status == "approved"


def test_another_organisation_cannot_withdraw(suite):
    app_id = prepare_submitted(suite)
    assert withdraw(suite, app_id, login="demo-boe").status_code == 404
    with suite.ctx("intake").transaction() as session:
        assert session.get(Application, app_id).status != "withdrawn"
