"""HTTP API of the identity service: ``POST /api/auth/token``, ``POST /api/auth/activate``."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from shared.auth import issue_token, public, require, current_principal
from shared.service import context
from shared.web import ApiError, json_body
from services.identity import activation
from services.identity.accounts import AccountError, authenticate
from services.identity.schemas import ActivatePostSchema, TokenPostSchema

bp = Blueprint("identity_api", __name__, url_prefix="/api/auth")


@bp.post("/token")
@public
def token():
    body = json_body(TokenPostSchema())
    with context("identity").transaction() as session:
        principal = authenticate(session, body["login"], body["password"])
    if principal is None:
        raise ApiError(401, "invalid_credentials", "ログイン名またはパスワードが正しくありません。")
    token, expires = issue_token(principal, current_app.config["SECRET_KEY"],
                                 current_app.config["NWS_TOKEN_TTL"])
    return jsonify({"token": token, "expires_at": expires.isoformat()}), 200


@bp.get("/me")
@require()
def me():
    p = current_principal()
    return jsonify({"login": p.login, "org": p.org_id, "role": p.role, "name": p.name,
                    "department": p.department})


@bp.post("/activate")
@public
def activate():
    """Set the password of an issued account through its one-time activation link."""
    body = json_body(ActivatePostSchema())
    try:
        with context("identity").transaction() as session:
            account = activation.activate(session, body["token"], body["password"])
            result = {"login": account.login, "org": account.org_id, "role": account.role}
    except AccountError as exc:
        raise ApiError(422, "bad_password", str(exc)) from None
    return jsonify(result), 200
