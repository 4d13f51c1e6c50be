"""Deadlines for applicants over HTTP: intake's copy of the schedule, and the
operator's late allowances (期限後の受付許可). The domain is services.intake.deadlines."""
from __future__ import annotations

from flask import Blueprint, jsonify

from shared.auth import current_principal, require
from shared.openapi import operation
from shared.service import context
from shared.web import json_body
from services.intake import deadlines
from services.intake.schemas import (ApplicantScheduleSchema, LateAllowanceListSchema,
                                     LateAllowancePostSchema, LateAllowanceSchema)

bp = Blueprint("intake_deadlines_api", __name__, url_prefix="/api/intake")


@bp.get("/schedule")
@require()
@operation("申請者向けの工程と期限（現在の工程を含む）", responses={200: ApplicantScheduleSchema})
def applicant_schedule():
    with context("intake").transaction() as session:
        return jsonify(ApplicantScheduleSchema().dump(deadlines.applicant_schedule(session)))


@bp.get("/late-allowances")
@require("operator")
@operation("期限後の受付許可の一覧（運用者）", responses={200: LateAllowanceListSchema})
def list_late_allowances():
    with context("intake").transaction() as session:
        return jsonify({"items": deadlines.allowances(session)})


@bp.post("/late-allowances")
@require("operator")
@operation("期限後の受付を許可する（機関または申請ごと、運用者）", body=LateAllowancePostSchema,
           responses={201: LateAllowanceSchema}, errors=(404, 422))
def grant_late_allowance():
    body = json_body()
    with context("intake").transaction() as session:
        allowance = deadlines.allow(session, current_principal(), phase=body["phase"],
                                    reason=body["reason"], org_id=body["org"],
                                    application_id=body["application_id"])
        result = deadlines.describe_allowance(allowance)
    return jsonify(result), 201
