"""HTTP API of the identity service: tokens (login, logout), the caller's account and
password, account activation, operators' account management, and the revocation state
other services fetch."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from shared.auth import (current_principal, issue_token, public, require, require_service,
                         revocation_changed)
from shared import listing
from shared.openapi import operation
from shared.service import context
from shared.web import ApiError, json_body
from services.identity import activation, admin, login, sessions
from services.identity.accounts import AccountError, LoginTaken
from services.identity.models import Account
from services.identity.schemas import (AccountListQuerySchema, AccountListSchema,
                                       AccountPostSchema, PasswordLinkSchema,
                                       AccountPatchSchema, AccountResponseSchema,
                                       ActivatedResponseSchema, ActivatePostSchema,
                                       MeResponseSchema, PasswordChangeSchema,
                                       RevocationsResponseSchema, TokenPostSchema,
                                       TokenResponseSchema)

bp = Blueprint("identity_api", __name__, url_prefix="/api/auth")


def client_address() -> str:
    """The client's address: the peer's, or the one the trusted proxy forwarded
    (`nws web` applies X-Forwarded-For only from NWS_TRUSTED_PROXY). The audit log
    (shared.audit) takes the same request.remote_addr."""
    return request.remote_addr or "-"


@bp.post("/token")
@public
@operation("トークンを発行する（ログイン）", body=TokenPostSchema,
           responses={200: TokenResponseSchema}, errors=(401, 403, 429))
def token():
    body = json_body()
    principal = login.attempt(context("identity"), body["login"], body["password"],
                              address=client_address(), channel="api")
    token, expires = issue_token(principal, current_app.config["SECRET_KEY"],
                                 current_app.config["NWS_TOKEN_TTL"])
    return jsonify({"token": token, "expires_at": expires.isoformat()}), 200


@bp.post("/logout")
@require()
@operation("呼び出したトークンを失効させる（ログアウト）", responses={204: None})
def logout():
    """End the caller's token (on every service within the revocation refresh)."""
    with context("identity").transaction() as session:
        sessions.revoke_token(session, current_principal())
    revocation_changed()
    return "", 204


@bp.get("/me")
@require()
@operation("自分のアカウント", responses={200: MeResponseSchema})
def me():
    p = current_principal()
    return jsonify({"login": p.login, "org": p.org_id, "role": p.role, "name": p.name,
                    "department": p.department})


@bp.put("/password")
@require()
@operation("自分のパスワードを変更する", body=PasswordChangeSchema, responses={204: None},
           errors=(403, 429))
def change_password():
    """Change the caller's password. Every token of the account ends, this one too."""
    body = json_body()
    p = current_principal()
    ctx = context("identity")
    login.check_current_password(ctx, p.account_id, body["current_password"],
                                 address=client_address())
    try:
        with ctx.transaction() as session:
            admin.set_password(session.get(Account, p.account_id), body["new_password"],
                               own=True)
    except AccountError as exc:
        raise ApiError(422, "bad_password", str(exc)) from None
    revocation_changed()
    return "", 204


@bp.post("/activate")
@public
@operation("有効化リンクでアカウントのパスワードを設定する", body=ActivatePostSchema,
           responses={200: ActivatedResponseSchema}, errors=(404, 409, 410))
def activate():
    """Set the password of an issued account through its one-time activation link."""
    body = json_body()
    try:
        with context("identity").transaction() as session:
            account = activation.activate(session, body["token"], body["password"])
            result = {"login": account.login, "org": account.org_id, "role": account.role}
    except AccountError as exc:
        raise ApiError(422, "bad_password", str(exc)) from None
    revocation_changed()        # a reset link ends the account's earlier sessions
    return jsonify(result), 200


# --- operators -------------------------------------------------------------------------

@bp.get("/accounts")
@require("operator")
@operation("アカウントの一覧（運用者）", query=AccountListQuerySchema,
           responses={200: AccountListSchema}, errors=(422,))
def list_accounts():
    """Accounts a page at a time (services.identity.admin.search, as the account page):
    q (part of the login, the name, the organisation's code or name), role, state
    (active | disabled), sort and order, page and per_page (50 by default)."""
    query = listing.checked(admin.parse_query, request.args)
    with context("identity").transaction() as session:
        page = admin.search(session, query)
    return jsonify(listing.page_body(page))


@bp.post("/accounts")
@require("operator")
@operation("アカウントを作成する（運用者）", body=AccountPostSchema,
           responses={201: AccountResponseSchema}, errors=(409,))
def create_account():
    """Create an account with any role for an organisation of the registry (as
    ``nws users add``)."""
    body = json_body()
    try:
        with context("identity").transaction() as session:
            account = admin.create(session, login=body["login"], password=body["password"],
                                   org_id=body["org"], role=body["role"], name=body["name"],
                                   department=body["department"], email=body["email"])
            result = admin.describe(session, account)
    except AccountError as exc:
        status = 409 if isinstance(exc, LoginTaken) else 422
        raise ApiError(status, "account_refused", str(exc),
                       details={"field": exc.field} if exc.field else None) from None
    return jsonify(result), 201


@bp.post("/accounts/<login_name>/password-link")
@require("operator")
@operation("パスワード設定用の一回限りのリンクを発行する（運用者）",
           responses={201: PasswordLinkSchema}, errors=(409,))
def password_link(login_name: str):
    """A one-time token that sets the account's password (for an issued account not
    yet activated, a new activation link); earlier unused links stop working. The token
    is in this answer only, and mailed when the account has an address."""
    ctx = context("identity")
    try:
        with ctx.transaction() as session:
            account = admin.account(session, login_name)
            token, expires, mailed = admin.issue_password_link(ctx, session, account)
    except AccountError as exc:
        raise ApiError(409, "account_disabled", str(exc)) from None
    return jsonify({"login": login_name, "token": token, "expires_at": expires.isoformat(),
                    "mailed": mailed}), 201


@bp.get("/accounts/<login_name>")
@require("operator")
@operation("アカウントの状態（運用者）", responses={200: AccountResponseSchema})
def get_account(login_name: str):
    with context("identity").transaction() as session:
        return jsonify(admin.describe(session, admin.account(session, login_name)))


@bp.patch("/accounts/<login_name>")
@require("operator")
@operation("アカウントの無効化・有効化・役割変更（運用者）", body=AccountPatchSchema,
           responses={200: AccountResponseSchema}, errors=(409,))
def patch_account(login_name: str):
    """Disable or enable an account (``active``), change its role (``role``). Both end
    the account's tokens on every service within a minute."""
    body = json_body()
    me_ = current_principal()
    try:
        with context("identity").transaction() as session:
            account = admin.account(session, login_name)
            refusal = admin.own_account_refusal(account, me_.account_id)
            if refusal is not None:
                raise ApiError(409, "own_account", refusal)
            if "active" in body:
                admin.set_active(account, body["active"])
            if "role" in body:
                admin.set_role(account, body["role"])
            result = admin.describe(session, account)
    except AccountError as exc:
        raise ApiError(409, "account_unchanged", str(exc)) from None
    revocation_changed()
    return jsonify(result), 200


@bp.delete("/accounts/<login_name>/sessions")
@require("operator")
@operation("アカウントのすべてのセッションとトークンを終了する（運用者）", responses={204: None})
def end_sessions(login_name: str):
    """End every session and token of an account (e.g. a token thought stolen)."""
    with context("identity").transaction() as session:
        admin.end_sessions(admin.account(session, login_name))
    revocation_changed()
    return "", 204


@bp.delete("/accounts/<login_name>/lock")
@require("operator")
@operation("ログインの一時ロックを解除する（運用者）", responses={204: None})
def unlock(login_name: str):
    """Lift the temporary login lock of a login name (its failed logins are forgotten)."""
    with context("identity").transaction() as session:
        admin.account(session, login_name)
        admin.unlock(session, login_name)
    return "", 204


# --- the suite's own processes --------------------------------------------------------

@bp.get("/revocations")
@require_service
@operation("失効状態（スイート内部のプロセス向け）", responses={200: RevocationsResponseSchema})
def revocations():
    """The revocation state (shared.auth.AuthState) for other services' web processes."""
    return jsonify(sessions.snapshot(context("identity"))), 200
