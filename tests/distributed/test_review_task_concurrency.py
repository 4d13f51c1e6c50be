"""Review tasks racing each other or a reviewer's decision, on PostgreSQL (READ COMMITTED,
row and advisory locks), as they do with several review worker processes.

Each test holds transaction A open for a moment after its change while transaction B,
in another thread, makes a conflicting change about the same application; the final
state must be what the two give in either order, never B's decision taken from the
state before A.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.review import cases
from services.review.models import Decision, MatchingSnapshot, ReviewCase, ReviewEvent
from shared.auth import Principal
from shared.db import utcnow
from shared.web import ApiError
from tests.distributed.conftest import race

CHIYODA = {"id": "131016", "name": "東京都千代田区", "kind": "特別区", "branch": "executive",
           "prefecture_code": "130001", "parent_id": None}
PREF = Principal(0, "demo-pref", "130001", "primary_reviewer", "審査 一郎", "東京都")
MIC = Principal(0, "demo-mic", "MIC", "secondary_reviewer", "総務 四郎", "総務省")
HOLD = 0.5  # seconds transaction A stays open after its change


def _submission(app_id: int) -> dict:
    return {"application_id": app_id, "number": f"2026-{app_id:06d}", "kind": "connection",
            "round": 1, "org": CHIYODA, "catalog_version": None,
            "submitted_at": utcnow().isoformat(),
            "submitted_by": {"org_id": "131016", "login": "demo-applicant", "name": "申請 太郎",
                             "department": ""},
            "forms": {"02-01": {}}, "findings": []}


def _withdrawal(app_id: int) -> dict:
    return {"application_id": app_id, "round": 1, "at": utcnow().isoformat(),
            "actor": {"org_id": "131016", "login": "demo-applicant", "name": "申請 太郎",
                      "department": ""}}


def _race(ctx, first, second) -> None:
    """``first(session)`` in a transaction held open for HOLD seconds after it ran;
    ``second(session)`` in another transaction started meanwhile. Both commit."""
    def run_second() -> None:
        with ctx.transaction() as session:
            second(session)

    race(ctx.transaction, first, run_second, HOLD)


def _case(session, app_id: int) -> ReviewCase | None:
    return session.scalar(select(ReviewCase).where(ReviewCase.application_id == app_id))


def _events(session, app_id: int) -> list[str]:
    return list(session.scalars(select(ReviewEvent.event).where(
        ReviewEvent.application_id == app_id).order_by(ReviewEvent.id)))


@pytest.mark.parametrize("stage, result, expected, last", [
    # a rejection returns the application to the applicant, whose withdrawal then
    # closes it; the rejection stays on record
    ("primary", "否認", "withdrawn", "withdrawn"),
    # an approval wins: the withdrawal is refused, only recorded
    ("secondary", "承認", "approved", "withdrawal_received"),
])
def test_withdrawal_does_not_overwrite_a_decision_committing_meanwhile(
        distributed, stage, result, expected, last):
    d = distributed
    ctx = d.runtime.services["review"]
    app_id = 810001 if stage == "primary" else 810002
    with ctx.transaction() as session:
        cases.receive_submission(ctx, session, _submission(app_id))
    if stage == "secondary":
        with ctx.transaction() as session:
            cases.decide(ctx, session, PREF, app_id, "承認", "")
    reviewer = PREF if stage == "primary" else MIC

    _race(ctx,
          lambda s: cases.decide(ctx, s, reviewer, app_id, result, "記入漏れ"),
          lambda s: cases.withdraw(ctx, s, _withdrawal(app_id)))

    with ctx.transaction() as session:
        case = _case(session, app_id)
        decisions = session.scalars(select(Decision).where(Decision.case_id == case.id)).all()
        assert stage in [x.stage for x in decisions]
        # The decision came first and stands; the withdrawal is applied after it
        # (never from the state before it).
        assert case.status == expected, _events(session, app_id)
        assert _events(session, app_id)[-1] == last


def test_withdrawal_processed_while_the_submission_commits(distributed):
    d = distributed
    ctx = d.runtime.services["review"]
    app_id = 810003
    _race(ctx,
          lambda s: cases.receive_submission(ctx, s, _submission(app_id)),
          lambda s: cases.withdraw(ctx, s, _withdrawal(app_id)))
    with ctx.transaction() as session:
        case = _case(session, app_id)
        assert case is not None and case.status == "withdrawn", _events(session, app_id)
        assert case.reviewer_org_id is None
        assert _events(session, app_id) == ["routed", "withdrawn"]
    # A reviewer can no longer decide it.
    with ctx.transaction() as session:
        with pytest.raises(ApiError) as err:
            cases.decide(ctx, session, PREF, app_id, "承認", "")
        assert err.value.status == 409


def test_submission_processed_while_the_withdrawal_commits(distributed):
    d = distributed
    ctx = d.runtime.services["review"]
    app_id = 810004
    _race(ctx,
          lambda s: cases.withdraw(ctx, s, _withdrawal(app_id)),
          lambda s: cases.receive_submission(ctx, s, _submission(app_id)))
    with ctx.transaction() as session:
        # The withdrawal of the round came first: nothing is opened for review.
        assert _case(session, app_id) is None
        assert _events(session, app_id) == ["withdrawal_received"]


def test_older_matching_results_do_not_overwrite_newer_ones(distributed):
    d = distributed
    ctx = d.runtime.services["review"]
    app_id = 810005
    with ctx.transaction() as session:
        cases.store_matching(session, {"application_id": app_id, "round": 1,
                                       "records": [{"status": "round-1"}]})
    _race(ctx,
          lambda s: cases.store_matching(s, {"application_id": app_id, "round": 2,
                                             "records": [{"status": "round-2"}]}),
          lambda s: cases.store_matching(s, {"application_id": app_id, "round": 1,
                                             "records": [{"status": "round-1 again"}]}))
    with ctx.transaction() as session:
        snap = session.get(MatchingSnapshot, app_id)
        assert (snap.round, snap.records) == (2, [{"status": "round-2"}])
