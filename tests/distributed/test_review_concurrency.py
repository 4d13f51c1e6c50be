"""Two reviewers of the same organisation decide the same stage at the same moment, on
PostgreSQL (READ COMMITTED, row locks): exactly one decision stands, the other gets 409."""
from __future__ import annotations

import threading

from sqlalchemy import select

from services.identity.accounts import create_account
from services.review import cases
from services.review.models import Decision, ReviewCase
from shared.db import utcnow
from tests import factories

CHIYODA = {"id": "131016", "name": "東京都千代田区", "kind": "特別区", "branch": "executive",
           "prefecture_code": "130001", "parent_id": None}


def _case(d, app_id: int) -> None:
    ctx = d.runtime.services["review"]
    with ctx.transaction() as session:
        cases.receive_submission(ctx, session, {
            "application_id": app_id, "number": f"2026-{app_id:06d}", "kind": "connection",
            "round": 1, "org": CHIYODA, "catalog_version": None,
            "submitted_at": utcnow().isoformat(),
            "submitted_by": {"org_id": "131016", "login": "demo-applicant", "name": "申請 太郎",
                             "department": ""},
            "forms": {"02-01": {}}, "findings": []})


def test_simultaneous_decisions_on_postgresql_leave_exactly_one(distributed):
    d = distributed
    with d.runtime.services["identity"].transaction() as session:
        for login in ("pg-pref-a", "pg-pref-b"):
            create_account(session, login=login, password=factories.DEMO_PASSWORD,
                           org_id="130001", role="primary_reviewer", name=login)
    headers = {login: d.headers(login) for login in ("pg-pref-a", "pg-pref-b")}
    for app_id in range(800001, 800009):
        _case(d, app_id)
        barrier = threading.Barrier(2)
        results: dict[str, int] = {}

        def decide(login: str, result: str, comment: str) -> None:
            client = d.app.test_client()
            barrier.wait()
            res = client.post(f"/api/review/applications/{app_id}/decisions",
                              json={"result": result, "comment": comment},
                              headers=headers[login])
            results[login] = res.status_code

        threads = [threading.Thread(target=decide, args=("pg-pref-a", "承認", "")),
                   threading.Thread(target=decide, args=("pg-pref-b", "否認", "記入漏れ"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results.values()) == [201, 409], results
        winner = next(login for login, status in results.items() if status == 201)
        with d.runtime.services["review"].transaction() as session:
            rows = session.scalars(select(Decision).join(ReviewCase).where(
                ReviewCase.application_id == app_id)).all()
            case = session.scalar(select(ReviewCase).where(ReviewCase.application_id == app_id))
            assert [(r.stage, r.reviewer_login) for r in rows] == [("primary", winner)]
            expected = "secondary_review" if winner == "pg-pref-a" else "returned"
            assert case.status == expected
