"""総務省 sees every unresolved 突合 first, and approving with any unresolved needs an
explicit acknowledgement with a comment; the acknowledgement stays on the decision and in
the history."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.review.models import Decision, ReviewCase, ReviewEvent
from tests.conftest import Suite, wait_for
from tests.review import support

DELEGATING = {"03-08": {"query_delegations": [], "provision_acceptances": [],
                        "provision_delegations": [{"info_no": "002", "info_name": "地方税関係情報",
                                                   "delegatee": "132012"}]}}
RECORDS = [
    {"kind": "query", "item": "九", "counterpart": None, "status": "confirmed"},
    {"kind": "provision_delegation", "item": "002", "item_name": "地方税関係情報",
     "counterpart": "132012", "status": "counterpart_missing"},
]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("matching-ack") / "var")
    yield s
    s.close()


def at_secondary(suite, records):
    app_id = support.submit(suite, form_data={**support.forms(), **DELEGATING})
    assert support.decide(suite, "demo-pref", app_id).status_code == 201
    wait_for(lambda: support.case(suite, app_id).status == "secondary_review",
             what="secondary stage")
    if records is not None:
        ctx = suite.ctx("matching")
        with ctx.transaction() as session:
            ctx.emit(session, "review", "matching.results",
                     {"application_id": app_id, "round": 1, "seq": 1, "records": records})
        wait_for(lambda: suite.client.get(f"/api/review/applications/{app_id}",
                                          headers=suite.headers("demo-mic")).get_json()
                 .get("matching"), what="matching results stored")
    return app_id


def decide(suite, app_id, **body):
    return suite.client.post(f"/api/review/applications/{app_id}/decisions",
                             json={"result": "承認", "comment": "", **body},
                             headers=suite.headers("demo-mic"))


def test_unresolved_matching_is_listed_first_and_blocks_a_plain_approval(suite):
    app_id = at_secondary(suite, RECORDS)
    body = suite.client.get(f"/api/review/applications/{app_id}",
                            headers=suite.headers("demo-mic")).get_json()
    assert [r["status"] for r in body["matching"]] == ["counterpart_missing", "confirmed"]
    assert [r["item"] for r in body["unresolved_matching"]] == ["002"]

    res = decide(suite, app_id)
    assert res.status_code == 409
    error = res.get_json()["error"]
    assert error["code"] == "unresolved_matching"
    assert "情報提供の委任 002（相手方 132012）: 相手方未申請" in error["message"]
    assert [r["item"] for r in error["details"]] == ["002"]
    # acknowledged, but without a reason
    res = decide(suite, app_id, acknowledge_matching=True)
    assert res.status_code == 422 and res.get_json()["error"]["code"] == "comment_required"
    assert support.case(suite, app_id).status == "secondary_review"

    res = decide(suite, app_id, acknowledge_matching=True,
                 comment="委任先の申請は来月提出予定と確認済み")
    assert res.status_code == 201, res.get_json()
    with suite.ctx("review").transaction() as session:
        decision = session.scalar(select(Decision).join(ReviewCase).where(
            ReviewCase.application_id == app_id, Decision.stage == "secondary"))
        assert [r["item"] for r in decision.acknowledged_matching] == ["002"]
        events = list(session.scalars(select(ReviewEvent).where(
            ReviewEvent.application_id == app_id).order_by(ReviewEvent.id)))
    ack = next(e for e in events if e.event == "matching_acknowledged")
    assert "相手方未申請" in ack.comment and ack.actor["login"] == "demo-mic"
    assert events[-1].event == "secondary_approved"


def test_an_approval_with_everything_matched_needs_no_acknowledgement(suite):
    app_id = at_secondary(suite, [dict(RECORDS[1], status="matched")])
    res = decide(suite, app_id)
    assert res.status_code == 201, res.get_json()
    with suite.ctx("review").transaction() as session:
        decision = session.scalar(select(Decision).join(ReviewCase).where(
            ReviewCase.application_id == app_id, Decision.stage == "secondary"))
        assert decision.acknowledged_matching is None


def test_delegation_rows_without_a_matching_report_are_unresolved(suite):
    app_id = at_secondary(suite, None)
    res = decide(suite, app_id)
    assert res.status_code == 409
    assert "突合の結果がまだ届いていません" in res.get_json()["error"]["message"]


def test_a_rejection_needs_no_acknowledgement(suite):
    app_id = at_secondary(suite, RECORDS)
    res = decide(suite, app_id, result="否認", comment="委任先の申請を待ってください。")
    assert res.status_code == 201
