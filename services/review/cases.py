"""Review cases: receiving a submission, routing it stage by stage, decisions."""
from __future__ import annotations

import datetime as dt

import pluggy
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.auth import Principal
from shared.db import utcnow
from shared.messaging import ServiceContext
from shared.web import ApiError, not_found
from services.review.models import Decision, MatchingSnapshot, ReviewCase
from services.review.routing import ROLE_OF, STATUS_OF, next_stage

RESULTS = ("承認", "否認")
REVIEWER_ROLES = ("forwarder", "primary_reviewer", "secondary_reviewer")


def _application(case: ReviewCase) -> dict:
    """The application as routing plugins see it."""
    return {"id": case.application_id, "number": case.number, "kind": case.kind,
            "round": case.round, "org": case.org, "forms": case.forms}


def _report(ctx: ServiceContext, session: Session, case: ReviewCase, event: str, *,
            actor: dict | None = None, comment: str | None = None) -> None:
    ctx.emit(session, "intake", "application.status_changed", {
        "application_id": case.application_id, "round": case.round, "status": case.status,
        "event": event, "stage": case.stage, "reviewer_org_id": case.reviewer_org_id,
        "actor": actor, "comment": comment, "at": utcnow().isoformat()})


def _advance(ctx: ServiceContext, session: Session, case: ReviewCase,
             after: str | None) -> None:
    """Move the case to the next stage that has a reviewer, or approve it."""
    nxt = next_stage(ctx.plugins, _application(case), after)
    if nxt is None:
        case.status, case.stage, case.reviewer_org_id = "approved", None, None
        return
    stage, route = nxt
    case.status, case.stage, case.reviewer_org_id = STATUS_OF[stage], stage, route.org_id
    case.stage_started_at = utcnow()
    case.routes = {**case.routes, stage: {"org_id": route.org_id, "reason": route.reason}}


def receive_submission(ctx: ServiceContext, session: Session, payload: dict) -> None:
    exists = session.scalar(select(ReviewCase.id).where(
        ReviewCase.application_id == payload["application_id"],
        ReviewCase.round == payload["round"]))
    if exists is not None:
        return
    org = payload["org"]
    case = ReviewCase(
        application_id=payload["application_id"], round=payload["round"],
        number=payload["number"], kind=payload["kind"], org=org, org_id=org["id"],
        prefecture_code=org.get("prefecture_code"), status="received",
        catalog_version=payload.get("catalog_version"), forms=payload["forms"],
        findings=payload.get("findings", []), submitted_by=payload["submitted_by"],
        submitted_at=dt.datetime.fromisoformat(payload["submitted_at"]), routes={})
    session.add(case)
    _advance(ctx, session, case, None)
    session.flush()
    _report(ctx, session, case, "routed")


def store_matching(session: Session, payload: dict) -> None:
    snap = session.get(MatchingSnapshot, payload["application_id"])
    if snap is None:
        session.add(MatchingSnapshot(application_id=payload["application_id"],
                                     round=payload["round"], records=payload["records"]))
    elif payload["round"] >= snap.round:
        snap.round, snap.records = payload["round"], payload["records"]


def latest_case(session: Session, application_id: int) -> ReviewCase | None:
    return session.scalar(select(ReviewCase).where(ReviewCase.application_id == application_id)
                          .order_by(ReviewCase.round.desc()).limit(1))


def visible_case(session: Session, principal: Principal, application_id: int) -> ReviewCase:
    """The latest case if it was ever routed to the caller's organisation (or the caller
    is an operator); 404 otherwise."""
    case = latest_case(session, application_id)
    if case is None:
        raise not_found("審査対象の申請")
    if principal.role == "operator":
        return case
    routed_to = {r["org_id"] for r in case.routes.values()}
    if principal.role not in REVIEWER_ROLES or principal.org_id not in routed_to:
        raise not_found("審査対象の申請")
    return case


def decide(ctx: ServiceContext, session: Session, principal: Principal, application_id: int,
           result: str, comment: str) -> Decision:
    case = visible_case(session, principal, application_id)
    stage = case.stage
    if case.status not in STATUS_OF.values() or stage is None:
        raise ApiError(409, "not_awaiting_decision",
                       f"この申請は現在「{case.status}」で、審査待ちではありません。")
    if principal.org_id != case.reviewer_org_id or principal.role != ROLE_OF[stage]:
        raise ApiError(403, "not_your_stage", "この申請の現在の審査段階はあなたの担当ではありません。")
    if principal.org_id == case.org_id:
        raise ApiError(403, "own_application", "自機関の申請を審査することはできません。")
    if any(d.reviewer_login == principal.login for d in case.decisions):
        raise ApiError(403, "same_reviewer", "同じ審査者が複数の段階を判定することはできません。")
    if result == "否認" and not comment.strip():
        raise ApiError(422, "comment_required", "否認する場合は具体的な理由をコメントに記入してください。")
    # Only one decision per stage stands: the guarded update lets exactly one through.
    moved = session.execute(update(ReviewCase).where(
        ReviewCase.id == case.id, ReviewCase.status == case.status,
        ReviewCase.stage == stage).values(updated_at=utcnow()))
    if moved.rowcount != 1:
        raise ApiError(409, "already_decided", "この段階は既に判定されています。")
    decision = Decision(case=case, stage=stage, result=result, comment=comment.strip(),
                        reviewer_org_id=principal.org_id, reviewer_login=principal.login,
                        reviewer_name=principal.name, reviewer_department=principal.department)
    session.add(decision)
    try:
        session.flush()
    except IntegrityError:
        raise ApiError(409, "already_decided", "この段階は既に判定されています。") from None
    actor = principal.actor()
    if result == "否認":
        case.status, case.reviewer_org_id = "returned", None
        _report(ctx, session, case, f"{stage}_rejected", actor=actor, comment=decision.comment)
        return decision
    _advance(ctx, session, case, stage)
    _report(ctx, session, case, f"{stage}_approved", actor=actor, comment=decision.comment or None)
    if case.status == "approved":
        ctx.emit(session, "master", "application.approved", {
            "application_id": case.application_id, "number": case.number, "kind": case.kind,
            "round": case.round, "org": case.org, "catalog_version": case.catalog_version,
            "approved_at": utcnow().isoformat(), "forms": case.forms})
    return decision


def describe(case: ReviewCase, *, matching: list | None = None) -> dict:
    body = {
        "application_id": case.application_id, "number": case.number, "kind": case.kind,
        "round": case.round, "org": case.org, "status": case.status, "stage": case.stage,
        "reviewer_org_id": case.reviewer_org_id, "routes": case.routes,
        "catalog_version": case.catalog_version, "forms": case.forms,
        "findings": case.findings, "submitted_by": case.submitted_by,
        "submitted_at": case.submitted_at.isoformat(),
        "decisions": [{"stage": d.stage, "result": d.result, "comment": d.comment,
                       "reviewer": {"org_id": d.reviewer_org_id, "login": d.reviewer_login,
                                    "name": d.reviewer_name,
                                    "department": d.reviewer_department},
                       "decided_at": d.decided_at.isoformat()} for d in case.decisions],
    }
    if matching is not None:
        body["matching"] = matching
    return body
