"""HTTP API of the intake service (``/api/intake``)."""
from __future__ import annotations

from functools import partial

from flask import Blueprint, jsonify, request

from shared.auth import current_principal, public, require
from shared import listing
from shared.openapi import CSV, PDF, File, Reply, operation
from shared.pluginmanager import form_specs
from shared.ratelimit import rate_limits
from shared.service import context, plugins
from shared.web import ApiError, json_body
from services.intake import account_requests, printing
from services.intake import applications as apps
from services.intake.schemas import (AccountRequestListQuerySchema, AccountRequestListSchema,
                                     RECEIPT_TOKEN_HEADER, WITHDRAW_BODY,
                                     AccountRequestCreatedSchema, AccountRequestPostSchema,
                                     AccountRequestPutSchema, AccountRequestReceiptSchema,
                                     AccountRequestResubmittedSchema, ApplicationCreatedSchema,
                                     ApplicationListSchema, ApplicationPostSchema,
                                     ApplicationResponseSchema, FormListSchema, FormSavedSchema,
                                     PdfPendingSchema, SubmittedSchema, WithdrawnSchema)

bp = Blueprint("intake_api", __name__, url_prefix="/api/intake")


def form_codes(app) -> dict:
    """The ``code`` path parameter of the OpenAPI document: the forms the app's plugins
    provide."""
    return {"enum": list(form_specs(app.extensions["nws.plugins"]))}


def form_bodies(app) -> dict:
    """A form's JSON twin: the schema of the form the path names (its plugin's)."""
    return {"anyOf": [spec.schema for spec in form_specs(app.extensions["nws.plugins"]).values()],
            "description": "path の様式コードの様式のデータ（様式ごとの schema）"}


def json_document() -> object:
    """The request's JSON document, whatever its shape (the form data, a selection, an
    organisation): 415 unless it is sent as JSON, 400 when it cannot be read."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type",
                       "Content-Type: application/json で JSON を送ってください。")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "malformed_json", "JSON として読み取れません。形式を確認してください。")
    return data


@bp.post("/applications")
@require("applicant")
@operation("申請を作成する", body=ApplicationPostSchema, responses={201: ApplicationCreatedSchema},
           errors=(409,))
def create_application():
    body = json_body()
    principal = current_principal()
    with context("intake").transaction() as session:
        app = apps.create_application(session, principal, body["kind"])
        result = {"id": app.id, "number": app.number, "status": app.status}
    return jsonify(result), 201


@bp.get("/applications")
@require("applicant")
@operation("自機関の申請の一覧", responses={200: ApplicationListSchema})
def list_applications():
    principal = current_principal()
    with context("intake").reading() as session:
        items = [{**a, "updated_at": a["updated_at"].isoformat()}
                 for a in apps.list_of_org(session, principal.org_id)]
    return jsonify({"items": items})


@bp.get("/applications/<int:app_id>")
@require("applicant")
@operation("申請の状態・様式・指摘・履歴", responses={200: ApplicationResponseSchema})
def get_application(app_id: int):
    with context("intake").reading() as session:
        app = apps.get_owned(session, current_principal(), app_id, form_data=False)
        return jsonify(apps.describe(app, context("intake")))


@bp.get("/applications/<int:app_id>.pdf")
@require()
@operation("申請全体の PDF（印刷用表示を変換したもの。作成中は 202: Retry-After 秒後に同じ URL を"
           "取得し直す）", responses={
               200: File(PDF, "申請全体の PDF"),
               202: Reply(PdfPendingSchema, "PDF を作成中です", headers={
                   "Retry-After": {"description": "もう一度取得するまでの秒数",
                                   "schema": {"type": "integer"}},
                   "Location": {"description": "取得し直す URL", "schema": {"type": "string"}}})},
           errors=(503,))
def application_pdf(app_id: int):
    """Owner, forwarder, reviewers and operators (404 for anyone else)."""
    location = f"/api/intake/applications/{app_id}.pdf"
    made = printing.pdf_for(context("intake"), current_principal(), app_id)
    if made is not None:
        return printing.send_pdf(*made)
    wait = printing.RETRY_SECONDS
    return jsonify({"status": "pending", "message": printing.PENDING_MESSAGE,
                    "retry_after": wait, "location": location}), 202, {
        "Retry-After": str(wait), "Location": location}


@bp.put("/applications/<int:app_id>/forms/<code>")
@require("applicant")
@operation("様式のデータを保存する（検証は非同期）", json=form_bodies, path={"code": form_codes},
           responses={202: FormSavedSchema}, errors=(409,))
def put_form(app_id: int, code: str):
    data = json_document()
    ctx = context("intake")
    principal = current_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        entry = apps.put_form(ctx, plugins(), session, principal, app, code, data)
        result = {"code": entry.code, "revision": entry.revision, "status": entry.status}
    return jsonify(result), 202


@bp.post("/applications/<int:app_id>/submit")
@require("applicant")
@operation("申請を提出する", responses={202: SubmittedSchema}, errors=(409, 422))
def submit(app_id: int):
    ctx = context("intake")
    principal = current_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        apps.submit(ctx, plugins(), session, principal, app)
        result = {"id": app.id, "number": app.number, "status": app.status,
                  "round": app.round}
    return jsonify(result), 202


@bp.post("/applications/<int:app_id>/withdraw")
@require("applicant")
@operation("申請を取り下げる（審査中は審査側の判断を待つ: 202）", json=WITHDRAW_BODY,
           body_required=False, responses={200: WithdrawnSchema, 202: WithdrawnSchema},
           errors=(409, 422))
def withdraw(app_id: int):
    ctx = context("intake")
    principal = current_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        body = request.get_json(silent=True) if request.is_json else None
        reason = body.get("reason") if isinstance(body, dict) else None
        done = apps.withdraw(ctx, session, principal, app,
                             reason if isinstance(reason, str) else "")
        result = {"id": app.id, "number": app.number, "status": app.status,
                  "round": app.round, "withdrawal_requested": not done}
    return jsonify(result), 200 if done else 202


@bp.get("/forms")
@require()
@operation("様式の一覧", responses={200: FormListSchema})
def list_forms():
    from shared.pluginmanager import form_specs

    return jsonify({"items": [{"code": s.code, "title": s.title}
                              for s in form_specs(plugins()).values()]})


# --- アカウント発行申請 (no login: the receipt token is the key) ---------------------------
#
# The receipt token travels in the ``X-Receipt-Token`` header, never in the URL (where
# access logs, proxies and browser histories would keep it): a ``?token=`` is refused
# with 400 before anything is looked up.

def _client_address() -> str:
    """The caller's address (``nws web`` takes it from X-Forwarded-For only behind the
    trusted gateway, NWS_TRUSTED_PROXY)."""
    return request.remote_addr or "unknown"


def _receipt_token() -> str | None:
    if "token" in request.args:
        raise ApiError(400, "token_in_url",
                       "受付トークンを URL に含めないでください。"
                       f"{account_requests.RECEIPT_HEADER} ヘッダーで送ってください。")
    header = request.headers.get(account_requests.RECEIPT_HEADER)
    return header.strip() if header else None


@bp.post("/account-requests")
@public
@operation("アカウント発行を申請する（ログイン不要）", body=AccountRequestPostSchema,
           responses={201: AccountRequestCreatedSchema}, errors=(403, 404, 409, 429))
def create_account_request():
    ctx = context("intake")
    limits, address = rate_limits(), _client_address()
    account_requests.check_address(limits, ctx.settings, address)
    body = json_body()
    with ctx.transaction() as session:
        app, token = account_requests.create(ctx, session, body, admit=partial(
            account_requests.admit, limits, ctx.settings, address))
        result = {"number": app.number, "receipt_token": token, "status": app.status,
                  "receipt_url": f"/api/intake/account-requests/{app.number}"}
    return jsonify(result), 201


@bp.get("/account-requests")
@require("operator")
@operation("アカウント発行申請の一覧（運用者）", query=AccountRequestListQuerySchema,
           responses={200: AccountRequestListSchema}, errors=(422,))
def list_account_requests():
    """Every account request a page at a time (the operators' page's function): q,
    status, sort and order, page and per_page (50 by default). Never a receipt or an
    activation token."""
    query = listing.checked(account_requests.parse_query, request.args)
    with context("intake").transaction() as session:
        page = account_requests.search(session, query)
    return jsonify(listing.page_body(page))


@bp.get("/account-requests.csv")
@require("operator")
@operation("アカウント発行申請の一覧（CSV、Excel 用）", query=AccountRequestListQuerySchema,
           responses={200: File(CSV, "CSV（UTF-8、BOM 付き。Excel で開けます）")}, errors=(422,))
def account_requests_csv():
    return account_requests.csv_response(request.args)


@bp.get("/account-requests/<number>")
@public
@operation("アカウント発行申請の受付票（受付トークンは X-Receipt-Token ヘッダーで。URL の "
           "?token= は 400）", parameters=(RECEIPT_TOKEN_HEADER,),
           responses={200: AccountRequestReceiptSchema}, errors=(400,))
def get_account_request(number: str):
    token = _receipt_token()
    with context("intake").transaction() as session:
        app = account_requests.by_receipt(session, number, token)
        return jsonify(account_requests.receipt(session, app))


@bp.put("/account-requests/<number>")
@public
@operation("差し戻されたアカウント発行申請を修正して再申請する", body=AccountRequestPutSchema,
           parameters=(RECEIPT_TOKEN_HEADER,),
           responses={202: AccountRequestResubmittedSchema}, errors=(400, 409))
def resubmit_account_request(number: str):
    """Correct a rejected request and submit it again (both stages run again)."""
    token = _receipt_token()
    body = json_body()
    ctx = context("intake")
    with ctx.transaction() as session:
        app = account_requests.by_receipt(session, number, token)
        account_requests.resubmit(ctx, session, app, body)
        result = {"number": app.number, "status": app.status, "round": app.round}
    return jsonify(result), 202
