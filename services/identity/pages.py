"""Pages of the identity service: login (sets the token cookie), logout, account."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from shared.auth import issue_token, public
from shared.pages import COOKIE, require_page, safe_next
from shared.service import context
from services.identity.accounts import authenticate

bp = Blueprint("identity_pages", __name__, url_prefix="/auth", template_folder="templates")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    next_url = safe_next(request.values.get("next"), "/auth/account")
    if request.method == "GET":
        return render_template("identity/login.html", next=next_url, login="", error=None)
    login_name = (request.form.get("login") or "").strip()
    password = request.form.get("password") or ""
    with context("identity").transaction() as session:
        principal = authenticate(session, login_name, password) if login_name else None
    if principal is None:
        return render_template("identity/login.html", next=next_url, login=login_name,
                               error="ログイン名またはパスワードが正しくありません。"), 401
    ttl = current_app.config["NWS_TOKEN_TTL"]
    token, _expires = issue_token(principal, current_app.config["SECRET_KEY"], ttl)
    response = redirect(next_url)
    response.set_cookie(COOKIE, token, max_age=ttl, httponly=True, samesite="Lax",
                        secure=current_app.config.get("NWS_COOKIE_SECURE", False), path="/")
    return response


@bp.post("/logout")
@public
def logout():
    response = redirect(url_for("identity_pages.login"))
    response.delete_cookie(COOKIE, path="/")
    return response


@bp.get("/account")
@require_page()
def account():
    return render_template("identity/account.html")
