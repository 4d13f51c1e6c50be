"""HTTP API of the review service (``/api/review``)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from shared.auth import current_principal, require
from shared.service import context
from shared.web import ApiError, json_body
from services.review import cases
from services.review.models import MatchingSnapshot, ReviewCase
from services.review.routing import ROLE_OF, STATUS_OF
from services.review.schemas import DecisionPostSchema

bp = Blueprint("review_api", __name__, url_prefix="/api/review")


@bp.get("/queue")
@require("forwarder", "primary_reviewer", "secondary_reviewer", "operator")
def queue():
    principal = current_principal()
    status = request.args.get("status")
    with context("review").transaction() as session:
        stmt = select(ReviewCase).order_by(ReviewCase.stage_started_at)
        if principal.role != "operator":
            stages = [s for s, role in ROLE_OF.items() if role == principal.role]
            stmt = stmt.where(ReviewCase.reviewer_org_id == principal.org_id,
                              ReviewCase.stage.in_(stages))
        if status:
            if status not in (*STATUS_OF.values(), "returned", "approved", "withdrawn"):
                raise ApiError(422, "bad_filter", f"status「{status}」は指定できません。")
            stmt = stmt.where(ReviewCase.status == status)
        items = [{"application_id": c.application_id, "number": c.number,
                  "org": c.org, "stage": c.stage, "status": c.status, "round": c.round,
                  "since": c.stage_started_at.isoformat(), "due": None}
                 for c in session.scalars(stmt.limit(1000))]
    return jsonify({"items": items})


@bp.get("/applications/<int:app_id>")
@require("forwarder", "primary_reviewer", "secondary_reviewer", "operator")
def get_case(app_id: int):
    principal = current_principal()
    with context("review").transaction() as session:
        case = cases.visible_case(session, principal, app_id)
        matching = None
        if principal.role in ("secondary_reviewer", "operator"):
            snap = session.get(MatchingSnapshot, app_id)
            matching = snap.records if snap else []
        return jsonify(cases.describe(case, matching=matching))


@bp.post("/applications/<int:app_id>/decisions")
@require("forwarder", "primary_reviewer", "secondary_reviewer")
def decide(app_id: int):
    body = json_body(DecisionPostSchema())
    principal = current_principal()
    ctx = context("review")
    with ctx.transaction() as session:
        decision = cases.decide(ctx, session, principal, app_id, body["result"], body["comment"])
        result = {"stage": decision.stage, "result": decision.result,
                  "decided_at": decision.decided_at.isoformat()}
    return jsonify(result), 201
