"""Review decisions: who may decide what, and that a decision, once made, stands alone.

One embedded suite (with its worker) serves the whole module to keep it fast; every
test drives applications of its own to the stage it needs."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from services.identity.models import Account
from services.review.models import Decision, ReviewCase
from shared.forms import Route
from shared.hookspecs import hookimpl
from tests import factories
from tests.conftest import Suite
from tests.test_lifecycle_embedded import decide, prepare_submitted

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

OSAKA = "osaka-reviewer"          # primary_reviewer of 大阪府 (270008)
PREF_2 = "tokyo-reviewer-2"       # a second primary_reviewer of 東京都 (130001)
TRANSFER = "tokyo-transferred"    # a primary_reviewer of 東京都 later moved to 総務省
SAPPORO = "sapporo-applicant"     # applicant of 札幌市 (011002)
SAPPORO_REVIEWER = "sapporo-reviewer"  # primary_reviewer of 札幌市 itself
HAKODATE = "hakodate-applicant"   # applicant of 函館市 (012025)
CHUO = "chuo-applicant"           # applicant of 中央区 (131024), whose application is registered


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("review-decisions") / "var")
    s.add_user(OSAKA, "270008", "primary_reviewer")
    s.add_user(PREF_2, "130001", "primary_reviewer")
    s.add_user(TRANSFER, "130001", "primary_reviewer")
    s.add_user(SAPPORO, "011002", "applicant")
    s.add_user(SAPPORO_REVIEWER, "011002", "primary_reviewer")
    s.add_user(HAKODATE, "012025", "applicant")
    s.add_user(CHUO, "131024", "applicant")
    yield s
    s.close()


# --- helpers -------------------------------------------------------------------------

def at_primary(suite: Suite, login: str = "demo-applicant", org: str = "131016") -> int:
    app_id = prepare_submitted(suite, login=login, org=org)
    suite.wait_status(app_id, "primary_review", login=login)
    return app_id


def at_secondary(suite: Suite) -> int:
    app_id = at_primary(suite)
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    return app_id


def decisions(suite: Suite, app_id: int) -> list[tuple]:
    with suite.ctx("review").transaction() as session:
        return [(d.stage, d.result, d.comment, d.reviewer_login) for d in session.scalars(
            select(Decision).join(ReviewCase).where(ReviewCase.application_id == app_id)
            .order_by(Decision.id))]


def snapshot(suite: Suite, app_id: int, login: str = "demo-applicant") -> dict:
    """The review case with its decisions, and the application as intake has it."""
    with suite.ctx("review").transaction() as session:
        cases = [(c.round, c.status, c.stage, c.reviewer_org_id, c.routes, c.updated_at)
                 for c in session.scalars(select(ReviewCase).where(
                     ReviewCase.application_id == app_id).order_by(ReviewCase.round))]
    app = suite.get_app(app_id, login)
    return {"cases": cases, "decisions": decisions(suite, app_id),
            "intake": (app["status"], app["stage"], len(app["history"]))}


def error_of(res, status: int, code: str | None = None) -> dict:
    assert res.status_code == status, (res.status_code, res.get_json())
    body = res.get_json()
    if code is not None:
        assert body["error"]["code"] == code, body
    assert JAPANESE.search(body["error"]["message"]), body
    return body


def login_headers(suite: Suite, login: str) -> dict:
    """A fresh token (the suite caches tokens; this one reflects the account now)."""
    res = suite.client.post("/api/auth/token",
                            json={"login": login, "password": factories.DEMO_PASSWORD})
    assert res.status_code == 200, res.get_json()
    return {"Authorization": f"Bearer {res.get_json()['token']}"}


class RouteOrg:
    """A third-party router: for applications of ``org_id``, send ``stage`` to
    ``reviewer``."""

    def __init__(self, org_id: str, stage: str, reviewer: str) -> None:
        self.org_id, self.stage, self.reviewer = org_id, stage, reviewer

    @hookimpl
    def nws_review_route(self, application, stage):
        if application["org"]["id"] == self.org_id and stage == self.stage:
            return Route(self.reviewer, "テスト用の経路")
        return None


@contextmanager
def router(suite: Suite, plugin, name: str):
    suite.runtime.plugins.register(plugin, name=name)
    try:
        yield plugin
    finally:
        suite.runtime.plugins.unregister(name=name)


def queue_ids(suite: Suite, login: str) -> set[int]:
    res = suite.client.get("/api/review/queue", headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return {i["application_id"] for i in res.get_json()["items"]}


# --- who may decide ------------------------------------------------------------------

def test_reviewer_of_another_prefecture_cannot_decide_and_the_case_is_hidden(suite):
    app_id = at_primary(suite)
    before = snapshot(suite, app_id)
    error_of(decide(suite, OSAKA, app_id, "承認"), 404, "not_found")
    error_of(suite.client.get(f"/api/review/applications/{app_id}",
                              headers=suite.headers(OSAKA)), 404, "not_found")
    assert snapshot(suite, app_id) == before
    assert decisions(suite, app_id) == []


def test_mic_cannot_decide_before_the_case_is_routed_to_it(suite):
    """At the primary stage the case has not been routed to 総務省 yet, so for MIC it
    does not exist (404, like any case never routed to the caller)."""
    app_id = at_primary(suite)
    before = snapshot(suite, app_id)
    error_of(decide(suite, "demo-mic", app_id, "承認"), 404, "not_found")
    assert snapshot(suite, app_id) == before
    assert suite.get_app(app_id)["status"] == "primary_review"


def test_secondary_reviewer_cannot_decide_a_primary_stage_routed_to_its_organisation(suite):
    """A router sends 函館市's primary stage to 総務省: MIC sees the case but its
    secondary_reviewer is not the primary stage's role (403)."""
    with router(suite, RouteOrg("012025", "primary", "MIC"), "test-primary-to-mic"):
        app_id = at_primary(suite, login=HAKODATE, org="012025")
        before = snapshot(suite, app_id, login=HAKODATE)
        assert before["cases"][0][3] == "MIC"
        error_of(decide(suite, "demo-mic", app_id, "承認"), 403, "not_your_stage")
        assert snapshot(suite, app_id, login=HAKODATE) == before


def test_colleague_of_the_primary_reviewer_is_told_the_stage_is_decided(suite):
    """Once 東京都 has decided the primary stage, another 東京都 reviewer can decide
    nothing more on the case: 409 (its stage is decided), not a decision on the
    secondary stage."""
    app_id = at_secondary(suite)
    before = snapshot(suite, app_id)
    error_of(decide(suite, PREF_2, app_id, "承認"), 409, "already_decided")
    assert snapshot(suite, app_id) == before


@pytest.mark.parametrize("login", ["demo-operator", "demo-applicant"])
def test_roles_that_never_decide_are_refused(suite, login):
    app_id = at_primary(suite)
    before = snapshot(suite, app_id)
    error_of(decide(suite, login, app_id, "承認"), 403, "forbidden")
    assert snapshot(suite, app_id) == before


def test_nobody_decides_their_own_organisations_application(suite):
    with router(suite, RouteOrg("011002", "primary", "011002"), "test-route-to-self"):
        app_id = at_primary(suite, login=SAPPORO, org="011002")
        before = snapshot(suite, app_id, login=SAPPORO)
        assert before["cases"][0][3] == "011002"
        assert app_id in queue_ids(suite, SAPPORO_REVIEWER)
        error_of(decide(suite, SAPPORO_REVIEWER, app_id, "承認"), 403, "own_application")
        assert snapshot(suite, app_id, login=SAPPORO) == before


def test_the_same_person_cannot_decide_two_stages(suite):
    """A 東京都 reviewer approves the primary stage, is then transferred to 総務省 as a
    secondary_reviewer (same login), and tries to decide the secondary stage. (An
    applicant of its own: the application is registered, and an organisation files
    one 接続申請.)"""
    app_id = at_primary(suite, login=CHUO, org="131024")
    assert decide(suite, TRANSFER, app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review", login=CHUO)
    with suite.ctx("identity").transaction() as session:
        account = session.scalar(select(Account).where(Account.login == TRANSFER))
        account.org_id, account.role = "MIC", "secondary_reviewer"
    before = snapshot(suite, app_id, login=CHUO)
    res = suite.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={"result": "承認", "comment": ""},
                            headers=login_headers(suite, TRANSFER))
    error_of(res, 403, "same_reviewer")
    assert snapshot(suite, app_id, login=CHUO) == before
    # Someone else at 総務省 still can.
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "registered", login=CHUO)


# --- what a decision needs -------------------------------------------------------

@pytest.mark.parametrize("comment", ["", "   ", "\u3000\n\t"], ids=["empty", "spaces",
                                                                    "fullwidth-space"])
def test_rejection_without_a_reason_is_422_and_changes_nothing(suite, comment):
    app_id = at_primary(suite)
    before = snapshot(suite, app_id)
    error_of(decide(suite, "demo-pref", app_id, "否認", comment), 422, "comment_required")
    assert snapshot(suite, app_id) == before


def test_rejection_with_no_comment_field_is_422(suite):
    app_id = at_primary(suite)
    before = snapshot(suite, app_id)
    res = suite.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={"result": "否認"}, headers=suite.headers("demo-pref"))
    error_of(res, 422, "comment_required")
    assert snapshot(suite, app_id) == before


def test_unknown_result_is_422_and_changes_nothing(suite):
    app_id = at_primary(suite)
    before = snapshot(suite, app_id)
    body = error_of(decide(suite, "demo-pref", app_id, "保留", "確認中"), 422,
                    "validation_failed")
    assert "result" in body["error"]["details"]
    assert snapshot(suite, app_id) == before


def test_approval_without_a_comment_is_accepted(suite):
    app_id = at_primary(suite)
    res = decide(suite, "demo-pref", app_id, "承認")
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["stage"] == "primary"
    assert decisions(suite, app_id) == [("primary", "承認", "", "demo-pref")]


# --- a decision stands alone ------------------------------------------------------

def test_second_decision_after_an_approval_is_409_and_changes_nothing(suite):
    app_id = at_primary(suite)
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    before = snapshot(suite, app_id)
    for login in ("demo-pref", PREF_2):
        error_of(decide(suite, login, app_id, "否認", "やはり不備があります。"), 409,
                 "already_decided")
    assert snapshot(suite, app_id) == before
    assert decisions(suite, app_id) == [("primary", "承認", "", "demo-pref")]


def test_second_decision_after_a_rejection_is_409_and_changes_nothing(suite):
    app_id = at_primary(suite)
    assert decide(suite, "demo-pref", app_id, "否認", "役職名が誤っています。").status_code == 201
    suite.wait_status(app_id, "returned")
    before = snapshot(suite, app_id)
    for login in ("demo-pref", PREF_2):
        error_of(decide(suite, login, app_id, "承認"), 409, "not_awaiting_decision")
    assert snapshot(suite, app_id) == before
    assert decisions(suite, app_id) == [("primary", "否認", "役職名が誤っています。", "demo-pref")]


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_decisions_cannot_be_edited_or_deleted(suite, method):
    app_id = at_primary(suite)
    assert decide(suite, "demo-pref", app_id, "否認", "理由その一").status_code == 201
    suite.wait_status(app_id, "returned")
    before = snapshot(suite, app_id)
    call = getattr(suite.client, method)
    res = call(f"/api/review/applications/{app_id}/decisions",
               json={"result": "承認", "comment": ""}, headers=suite.headers("demo-pref"))
    error_of(res, 405, "method_not_allowed")
    for path in (f"/api/review/applications/{app_id}/decisions/primary",
                 f"/api/review/applications/{app_id}/decisions/1"):
        res = call(path, json={"result": "承認", "comment": ""},
                   headers=suite.headers("demo-pref"))
        assert res.status_code in (404, 405), res.get_json()
    assert snapshot(suite, app_id) == before


def test_two_reviewers_deciding_the_same_stage_at_once_one_wins(suite):
    """Two 東京都 reviewers press 承認 and 否認 at the same moment, several times: each
    time exactly one decision is taken (201), the other is told it was already decided
    (409), and one Decision row exists for the stage."""
    h = {login: suite.headers(login) for login in ("demo-pref", PREF_2)}
    # four 特別区, each with an application of its own (one open application each)
    applicants = []
    for org in ("131032", "131041", "131059", "131067"):
        login = f"race-applicant-{org}"
        suite.add_user(login, org, "applicant")
        applicants.append((login, prepare_submitted(suite, login=login, org=org)))
    for login, app_id in applicants:
        suite.wait_status(app_id, "primary_review", login=login)
    for i, (applicant, app_id) in enumerate(applicants):
        # Alternate who approves so both outcomes get to win the race.
        votes = [("demo-pref", "承認", ""), (PREF_2, "否認", "連絡先が不正確です。")]
        if i % 2:
            votes = [("demo-pref", "否認", "連絡先が不正確です。"), (PREF_2, "承認", "")]
        barrier = threading.Barrier(len(votes))
        results: dict[str, tuple[int, dict]] = {}

        def vote(login, result, comment):
            client = suite.app.test_client()
            barrier.wait()
            res = client.post(f"/api/review/applications/{app_id}/decisions",
                              json={"result": result, "comment": comment}, headers=h[login])
            results[result] = (res.status_code, res.get_json())

        threads = [threading.Thread(target=vote, args=v) for v in votes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        statuses = sorted(code for code, _ in results.values())
        assert statuses == [201, 409], results
        loser = next(body for code, body in results.values() if code == 409)
        assert JAPANESE.search(loser["error"]["message"])
        rows = [d for d in decisions(suite, app_id) if d[0] == "primary"]
        assert len(rows) == 1
        winner = next(result for result, (code, _) in results.items() if code == 201)
        assert rows[0][1] == winner
        # The loser read the winner's outcome: a stage already decided, or a case no
        # longer awaiting any decision.
        assert loser["error"]["code"] == ("already_decided" if winner == "承認"
                                          else "not_awaiting_decision")
        suite.wait_status(app_id, "secondary_review" if winner == "承認" else "returned",
                          login=applicant)


# --- what reviewers see ------------------------------------------------------------

def test_queue_shows_only_cases_routed_to_the_callers_organisation_and_role(suite):
    app_id = at_primary(suite)
    assert app_id in queue_ids(suite, "demo-pref")
    assert app_id in queue_ids(suite, PREF_2)
    for login in ("demo-mic", "demo-jlis", OSAKA, "demo-forwarder"):
        assert app_id not in queue_ids(suite, login), login
    assert app_id in queue_ids(suite, "demo-operator")

    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    assert app_id in queue_ids(suite, "demo-mic")
    for login in ("demo-pref", PREF_2, "demo-jlis", OSAKA):
        assert app_id not in queue_ids(suite, login), login


def test_queue_items_of_a_reviewer_are_all_at_its_stage_and_organisation(suite):
    at_primary(suite)
    with suite.ctx("review").transaction() as session:
        mine = {c.application_id for c in session.scalars(select(ReviewCase).where(
            ReviewCase.reviewer_org_id == "130001", ReviewCase.stage == "primary"))}
    res = suite.client.get("/api/review/queue", headers=suite.headers("demo-pref"))
    items = res.get_json()["items"]
    assert {i["application_id"] for i in items} == mine
    assert {(i["stage"], i["status"]) for i in items} == {("primary", "primary_review")}


def test_forwarding_stage_is_in_the_forwarders_queue_only(suite):
    app_id = prepare_submitted(suite, login="demo-boe", org="131016-BOE")
    suite.wait_status(app_id, "forwarding", login="demo-boe")
    assert app_id in queue_ids(suite, "demo-forwarder")
    assert app_id not in queue_ids(suite, "demo-pref")
    assert app_id not in queue_ids(suite, "demo-mic")


def test_secondary_reviewer_sees_the_matching_results(suite):
    app_id = at_secondary(suite)
    res = suite.client.get(f"/api/review/applications/{app_id}",
                           headers=suite.headers("demo-mic"))
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert "matching" in body and isinstance(body["matching"], list)
    assert body["stage"] == "secondary"
    assert [d["stage"] for d in body["decisions"]] == ["primary"]


def test_primary_reviewer_does_not_get_the_matching_results(suite):
    app_id = at_primary(suite)
    res = suite.client.get(f"/api/review/applications/{app_id}",
                           headers=suite.headers("demo-pref"))
    assert res.status_code == 200, res.get_json()
    assert "matching" not in res.get_json()


def test_primary_reviewer_still_sees_a_case_it_passed_on(suite):
    app_id = at_secondary(suite)
    res = suite.client.get(f"/api/review/applications/{app_id}",
                           headers=suite.headers("demo-pref"))
    assert res.status_code == 200
    assert res.get_json()["status"] == "secondary_review"


def test_an_older_matching_report_of_the_same_round_never_replaces_a_newer_one(suite):
    """Two review workers may process two reports of one round in either order: the one
    matching made last (largest seq) stays, whichever commits last."""
    from services.review import cases
    from services.review.models import MatchingSnapshot

    ctx = suite.ctx("review")
    newer = {"application_id": 990001, "round": 1, "seq": 3, "records": [{"status": "matched"}]}
    older = {"application_id": 990001, "round": 1, "seq": 2,
             "records": [{"status": "counterpart_missing"}]}
    for payload in (newer, older):
        with ctx.transaction() as session:
            cases.store_matching(session, payload)
    with ctx.transaction() as session:
        snap = session.get(MatchingSnapshot, 990001)
        assert (snap.round, snap.seq, snap.records) == (1, 3, [{"status": "matched"}])
    with ctx.transaction() as session:   # the next round starts its own sequence
        cases.store_matching(session, {"application_id": 990001, "round": 2, "seq": 1,
                                       "records": []})
    with ctx.transaction() as session:
        snap = session.get(MatchingSnapshot, 990001)
        assert (snap.round, snap.seq, snap.records) == (2, 1, [])
