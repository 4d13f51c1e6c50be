"""Helpers for review tests: put a submission straight on the review queue (as intake
would send it) and read review's own tables."""
from __future__ import annotations

import itertools

from sqlalchemy import select

from services.review.models import ReviewCase
from shared.db import utcnow
from tests.conftest import Suite, wait_for

_ids = itertools.count(900001)

# Organisations as intake's registry sends them (contracts.OrgRef).
CHIYODA = {"id": "131016", "name": "東京都千代田区", "kind": "特別区", "branch": "executive",
           "prefecture_code": "130001", "parent_id": None}
CHIYODA_BOE = {"id": "131016-BOE", "name": "千代田区教育委員会", "kind": "特別区",
               "branch": "board_of_education", "prefecture_code": "130001",
               "parent_id": "131016"}
TOKYO = {"id": "130001", "name": "東京都", "kind": "都道府県", "branch": "executive",
         "prefecture_code": "130001", "parent_id": None}
TOKYO_BOE = {"id": "130001-BOE", "name": "東京都教育委員会", "kind": "都道府県",
             "branch": "board_of_education", "prefecture_code": "130001",
             "parent_id": "130001"}
UNION = {"id": "U-EXAMPLE-13", "name": "（例）東京都後期高齢者医療広域連合",
         "kind": "後期高齢者医療広域連合", "branch": "union", "prefecture_code": "130001",
         "parent_id": None}
OSAKA_CITY = {"id": "271004", "name": "大阪府大阪市", "kind": "政令指定都市",
              "branch": "executive", "prefecture_code": "270008", "parent_id": None}

APPLICANT = {"org_id": "131016", "login": "demo-applicant", "name": "申請 太郎",
             "department": "情報政策課"}


def forms(org_id: str = "131016") -> dict:
    return {"02-01": {"org": org_id, "system_chief": {"title": "部長", "name": "山田 一郎"}},
            "02-02": {"org": org_id, "normal_contacts": []}}


def submit(suite: Suite, org: dict = CHIYODA, *, app_id: int | None = None, round: int = 1,
           kind: str = "connection", form_data: dict | None = None,
           findings: list | None = None) -> int:
    """Send ``application.submitted`` to review through the outbox; wait for the case."""
    app_id = app_id or next(_ids)
    ctx = suite.ctx("review")
    with ctx.transaction() as session:
        ctx.emit(session, "review", "application.submitted", {
            "application_id": app_id, "number": f"2026-{app_id:06d}", "kind": kind,
            "round": round, "org": org, "catalog_version": None,
            "submitted_at": utcnow().isoformat(), "submitted_by": {**APPLICANT, "org_id": org["id"]},
            "forms": form_data if form_data is not None else forms(org["id"]),
            "findings": findings or []})
    wait_for(lambda: case(suite, app_id, round), what=f"review case {app_id} round {round}")
    return app_id


def case(suite: Suite, app_id: int, round: int | None = None) -> ReviewCase | None:
    with suite.ctx("review").transaction() as session:
        stmt = select(ReviewCase).where(ReviewCase.application_id == app_id)
        if round is not None:
            stmt = stmt.where(ReviewCase.round == round)
        return session.scalar(stmt.order_by(ReviewCase.round.desc()).limit(1))


def decide(suite: Suite, login: str, app_id: int, result: str = "承認", comment: str = ""):
    return suite.client.post(f"/api/review/applications/{app_id}/decisions",
                             json={"result": result, "comment": comment},
                             headers=suite.headers(login))


def queue(suite: Suite, login: str, **filters) -> list[dict]:
    res = suite.client.get("/api/review/queue", query_string=filters,
                           headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["items"]
