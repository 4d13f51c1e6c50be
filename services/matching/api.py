"""HTTP API of the matching service (``/api/matching``).

- ``GET /applications/ID``: the delegation records of an application and their outcome,
  for the organisation that filed it (and the 首長部局 that forwards a 教育委員会's),
  総務省's secondary reviewers and operators.
- ``GET /confirmations?status=pending|confirmed|disputed|all``: the 委任情報確認依頼
  addressed to the caller's organisation (pending ones by default).
- ``POST /confirmations/ID`` ``{"answer": "確認"|"異議", "reason"}``: answer one; a
  dispute needs a reason.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from shared.auth import current_principal, require
from shared import listing
from shared.openapi import CSV, File, operation
from shared.service import context
from shared.web import json_body, not_found
from services.matching import confirmations as confirmation_list
from services.matching import matcher
from services.matching.matcher import APPLICANT_ROLES, OVERSEERS
from services.matching.models import Confirmation, DelegationRecord, MatchedApplication
from services.matching.schemas import (ANSWERS, ApplicationRecordsSchema,
                                       ConfirmationAnswerSchema, ConfirmationListSchema,
                                       ConfirmationQuerySchema, ConfirmationRequestSchema)

bp = Blueprint("matching_api", __name__, url_prefix="/api/matching")

@bp.get("/applications/<int:app_id>")
@require()
@operation("申請の委任情報と突合の結果", responses={200: ApplicationRecordsSchema})
def application_records(app_id: int):
    principal = current_principal()
    with context("matching").transaction() as session:
        known = session.get(MatchedApplication, app_id)
        if known is None or not matcher.may_see(principal, known):
            raise not_found("突合結果")
        return jsonify({"application_id": app_id, "org_id": known.org_id,
                        "round": known.round, "status": known.status,
                        "records": matcher.results_of(session, app_id)})




@bp.get("/confirmations")
@require(*APPLICANT_ROLES)
@operation("自機関あての委任情報確認依頼", query=ConfirmationQuerySchema,
           responses={200: ConfirmationListSchema}, errors=(422,))
def list_confirmations():
    """A page (50 by default) of the requests to the caller's organisation
    (services.matching.confirmations, as the page): status, q (part of the 申請番号, the
    delegatee's code or name, the 項番 or the affair), sort and order, page, per_page;
    ``total`` and ``pages`` tell how many there are."""
    query = listing.checked(confirmation_list.parse, request.args)
    with context("matching").transaction() as session:
        page = confirmation_list.search(session, current_principal(), query)
    return jsonify(listing.page_body(page))


@bp.get("/confirmations.csv")
@require(*APPLICANT_ROLES)
@operation("自機関あての委任情報確認依頼（CSV、Excel 用）", query=ConfirmationQuerySchema,
           responses={200: File(CSV, "CSV（UTF-8、BOM 付き。Excel で開けます）")}, errors=(422,))
def confirmations_csv():
    """Every matching request (no paging, at most 50,000 rows) as CSV for Excel."""
    return confirmation_list.csv_response(request.args, current_principal())


@bp.post("/confirmations/<int:confirmation_id>")
@require(*APPLICANT_ROLES)
@operation("委任情報確認依頼に回答する（確認・異議）", body=ConfirmationAnswerSchema,
           responses={200: ConfirmationRequestSchema}, errors=(409,))
def answer_confirmation(confirmation_id: int):
    principal = current_principal()
    body = json_body()
    ctx = context("matching")
    with ctx.transaction() as session:
        c = session.get(Confirmation, confirmation_id)
        if c is None or c.delegator_org != principal.org_id:
            raise not_found("委任情報確認依頼")
        matcher.answer(ctx, session, c, ANSWERS[body["answer"]],
                       body["reason"].strip() or None, principal.actor())
        view = confirmation_list.view(c, session.get(DelegationRecord, c.record_id))
    return jsonify(view)
