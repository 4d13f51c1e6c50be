"""HTTP API of the review service (``/api/review``)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from shared.auth import REVIEWER_ROLES, current_principal, require
from shared import listing
from shared.openapi import CSV, File, operation
from shared.service import context
from shared.ratelimit import rate_limits
from shared.web import ApiError, checked_outbound_url, json_body
from services.review import cases, schedule, webhooks
from services.review import queue as review_queue
from services.review.schemas import (CaseSchema, DecisionPostSchema, DecisionSchema,
                                     QueueQuerySchema, QueueSchema, RedeliverySchema, RerouteSchema,
                                     SchedulePutSchema, ScheduleSchema, WebhookCreatedSchema,
                                     WebhookDeliveryListSchema, WebhookListSchema,
                                     WebhookPostSchema, WebhookSecretSchema)

bp = Blueprint("review_api", __name__, url_prefix="/api/review")


@bp.get("/queue")
@require("forwarder", "primary_reviewer", "secondary_reviewer", "operator")
@operation("審査待ちの一覧", query=QueueQuerySchema, responses={200: QueueSchema}, errors=(422,))
def queue():
    """The caller's queue, a page at a time (services.review.queue). Filters: status,
    org, prefecture, form (a form code the application includes), kind, min_age_days
    (days waiting at the current stage), overdue=true, q (part of the 申請番号, the
    organisation's code or name), scope (mine | decided | all); sort and order; page
    and per_page (50 by default, at most 200). Each item has ``due`` (the phase deadline
    of its stage) and ``overdue``."""
    query = listing.checked(review_queue.parse, request.args)
    with context("review").reading() as session:
        page = review_queue.search(session, current_principal(), query)
    items = [{**i, "since": i["since"].isoformat(), "submitted_at": i["submitted_at"].isoformat(),
              "due": i["due"].isoformat() if i["due"] else None} for i in page.items]
    return jsonify(listing.page_body(page, items))


@bp.get("/queue.csv")
@require("forwarder", "primary_reviewer", "secondary_reviewer", "operator")
@operation("審査待ちの一覧（CSV、Excel 用）", query=QueueQuerySchema,
           responses={200: File(CSV, "CSV（UTF-8、BOM 付き。Excel で開けます）")}, errors=(422,))
def queue_csv():
    """Every case of the caller's queue that matches (no paging, at most 50,000 rows) as
    CSV in UTF-8 with a BOM, for Excel."""
    return review_queue.csv_response(request.args, current_principal())


@bp.get("/applications/<int:app_id>")
@require("forwarder", "primary_reviewer", "secondary_reviewer", "operator")
@operation("審査する申請", responses={200: CaseSchema})
def get_case(app_id: int):
    with context("review").reading() as session:
        case, matching = cases.case_view(session, current_principal(), app_id)
        return jsonify(cases.describe(case, matching=matching, session=session))


@bp.post("/applications/<int:app_id>/decisions")
@require("forwarder", "primary_reviewer", "secondary_reviewer")
@operation("審査の結果（承認・否認）を登録する", body=DecisionPostSchema,
           responses={201: DecisionSchema}, errors=(409,))
def decide(app_id: int):
    body = json_body()
    principal = current_principal()
    ctx = context("review")
    with ctx.transaction() as session:
        decision = cases.decide(ctx, session, principal, app_id, body["result"], body["comment"],
                                body["acknowledge_matching"])
        result = {"stage": decision.stage, "result": decision.result,
                  "decided_at": decision.decided_at.isoformat()}
    return jsonify(result), 201


@bp.post("/applications/<int:app_id>/reroute")
@require("forwarder", "primary_reviewer", "secondary_reviewer", "operator")
@operation("振分けできなかった申請を振り分け直す（運用者）", responses={200: RerouteSchema},
           body_required=False, errors=(404, 409))
def reroute(app_id: int):
    """Route an unroutable case (振分けできません) again, once its router was fixed or
    disabled (operators; a reviewer gets 404 as for any case not routed to it, else
    403): 200 with the case's new status, 409 while it still cannot be routed (the new
    problem is kept on the case) or when it is not unroutable."""
    ctx = context("review")
    with ctx.transaction() as session:
        routed, case = cases.reroute_case(ctx, session, current_principal(), app_id)
        result = {"application_id": app_id, "status": case.status, "stage": case.stage,
                  "reviewer_org_id": case.reviewer_org_id,
                  "routing_problem": case.routing_problem}
        comment = cases.routing_comment(case)
    if not routed:
        raise ApiError(409, "still_unroutable",
                       f"まだ振り分けられません: {comment}（{result['routing_problem']['problem']}）",
                       details=result["routing_problem"])
    return jsonify(result)


# --- schedule (operator) -----------------------------------------------------------------

@bp.get("/schedule")
@require()
@operation("工程と期限", responses={200: ScheduleSchema})
def get_schedule():
    with context("review").transaction() as session:
        return jsonify({"phases": schedule.describe(session)})


@bp.put("/schedule")
@require("operator")
@operation("工程と期限を設定する（運用者）", body=SchedulePutSchema, responses={200: ScheduleSchema})
def put_schedule():
    body = json_body()
    ctx = context("review")
    with ctx.transaction() as session:
        schedule.replace(ctx, session, body["phases"], current_principal().login)
        return jsonify({"phases": schedule.describe(session)})


# --- webhooks (reviewing organisations; applying organisations for their notices) -------

WEBHOOK_ROLES = (*REVIEWER_ROLES, "applicant")


@bp.post("/webhooks")
@require(*WEBHOOK_ROLES)
@operation("Webhook を登録する（審査機関は審査のイベント、申請機関は自機関への通知）",
           body=WebhookPostSchema, responses={201: WebhookCreatedSchema}, errors=(409,))
def create_webhook():
    body = json_body()
    principal = current_principal()
    allowed = webhooks.NOTICE_EVENTS if principal.role == "applicant" else webhooks.EVENTS
    wrong = [e for e in body["events"] if e not in allowed]
    if wrong:
        raise ApiError(422, "validation_failed", "入力内容に誤りがあります。", details={
            "events": [f"{', '.join(wrong)} は指定できません。この役割で指定できるのは "
                       f"{', '.join(allowed)} です。"]})
    ctx = context("review")
    url = checked_outbound_url(body["url"], ctx.settings)   # resolved, every address checked
    with ctx.transaction() as session:
        endpoint, secret = webhooks.create_endpoint(session, principal.org_id, principal.login,
                                                    url, body["events"])
        result = {"id": endpoint.id, "secret": secret.secret, "secret_id": secret.id,
                  "url": endpoint.url, "events": endpoint.events}
    return jsonify(result), 201


@bp.get("/webhooks")
@require(*WEBHOOK_ROLES)
@operation("自機関の Webhook の一覧", responses={200: WebhookListSchema})
def list_webhooks():
    with context("review").transaction() as session:
        rows = webhooks.endpoints_of(session, current_principal().org_id)
        return jsonify({"items": [webhooks.describe_endpoint(e) for e in rows]})


@bp.delete("/webhooks/<int:hook_id>")
@require(*WEBHOOK_ROLES)
@operation("Webhook を削除する", responses={204: None})
def delete_webhook(hook_id: int):
    with context("review").transaction() as session:
        endpoint = webhooks.owned_endpoint(session, current_principal().org_id, hook_id)
        webhooks.remove_endpoint(session, endpoint)
    return "", 204


@bp.post("/webhooks/<int:hook_id>/secrets")
@require(*WEBHOOK_ROLES)
@operation("Webhook の新しいシークレットを作る（ローテーション）", responses={201: WebhookSecretSchema},
           errors=(409,))
def add_webhook_secret(hook_id: int):
    with context("review").transaction() as session:
        endpoint = webhooks.owned_endpoint(session, current_principal().org_id, hook_id)
        secret = webhooks.add_secret(session, endpoint)
        result = {"id": secret.id, "secret": secret.secret}
    return jsonify(result), 201


@bp.delete("/webhooks/<int:hook_id>/secrets/<int:secret_id>")
@require(*WEBHOOK_ROLES)
@operation("Webhook のシークレットを廃止する", responses={204: None}, errors=(409,))
def retire_webhook_secret(hook_id: int, secret_id: int):
    with context("review").transaction() as session:
        endpoint = webhooks.owned_endpoint(session, current_principal().org_id, hook_id)
        webhooks.retire_secret(session, endpoint, secret_id)
    return "", 204


@bp.get("/webhooks/<int:hook_id>/deliveries")
@require(*WEBHOOK_ROLES)
@operation("Webhook の配信記録", responses={200: WebhookDeliveryListSchema})
def list_deliveries(hook_id: int):
    with context("review").transaction() as session:
        endpoint = webhooks.owned_endpoint(session, current_principal().org_id, hook_id)
        return jsonify({"items": [webhooks.describe_delivery(d)
                                  for d in webhooks.deliveries_of(session, endpoint)]})


@bp.post("/webhooks/<int:hook_id>/deliveries/<delivery_id>/redeliver")
@require(*WEBHOOK_ROLES)
@operation("Webhook の配信をやり直す", responses={202: RedeliverySchema}, errors=(409, 429))
def redeliver(hook_id: int, delivery_id: str):
    """Send a delivery again; at most ``webhooks.REDELIVER_LIMIT`` per endpoint (429
    with Retry-After beyond)."""
    ctx = context("review")
    limits, key = rate_limits(), ("review.redeliver", str(hook_id))
    with ctx.transaction() as session:
        endpoint = webhooks.owned_endpoint(session, current_principal().org_id, hook_id)
        delivery = webhooks.owned_delivery(session, endpoint, delivery_id)
        limits.acquire(webhooks.REDELIVER_LIMIT, *key, what="この Webhook の再送")
        webhooks.redeliver(ctx, session, delivery)
        result = {"id": delivery.id, "status": delivery.status}
    return jsonify(result), 202
