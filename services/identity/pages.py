"""Pages of the identity service: login (sets the token cookie), logout, account, and
the activation of an issued account (its one-time token is posted, never in a URL)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from shared.auth import issue_token, public, revocation_changed, verify_token
from shared.pages import COOKIE, html_errors, page_principal, require_page, safe_next
from shared.service import context
from shared.web import ApiError
from services.identity import activation, notifications
from services.identity import login as login_flow
from services.identity.accounts import AccountError
from services.identity import sessions
from services.identity.api import client_address

bp = Blueprint("identity_pages", __name__, url_prefix="/auth", template_folder="templates")
html_errors(bp)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    # no page asked for (or the login page itself): "/" sends each role to its home
    next_url = safe_next(request.values.get("next"), "/")
    if next_url.startswith(("/auth/login", "/auth/logout")):
        next_url = "/"
    if request.method == "GET":
        return render_template("identity/login.html", next=next_url, login="", error=None)
    login_name = (request.form.get("login") or "").strip()
    password = request.form.get("password") or ""
    try:
        if not login_name:
            raise ApiError(401, "invalid_credentials", login_flow.BAD_CREDENTIALS)
        principal = login_flow.attempt(context("identity"), login_name, password,
                                       address=client_address(), channel="page")
    except ApiError as exc:
        response = current_app.make_response((render_template(
            "identity/login.html", next=next_url, login=login_name, error=exc.message),
            exc.status))
        response.headers.update(exc.headers)     # Retry-After of a throttled or busy login
        return response
    ttl = current_app.config["NWS_TOKEN_TTL"]
    token, _expires = issue_token(principal, current_app.config["SECRET_KEY"], ttl)
    response = redirect(next_url)
    response.set_cookie(COOKIE, token, max_age=ttl, httponly=True, samesite="Lax",
                        secure=current_app.config.get("NWS_COOKIE_SECURE", False), path="/")
    return response


@bp.post("/logout")
@public
def logout():
    """End the page session: the cookie's token is revoked on every service, and the
    cookie removed."""
    token = request.cookies.get(COOKIE)
    if token:
        try:
            principal = verify_token(token, current_app.config["SECRET_KEY"])
        except ApiError:
            principal = None    # expired or invalid: nothing to revoke
        if principal is not None:
            with context("identity").transaction() as session:
                sessions.revoke_token(session, principal)
            revocation_changed()
    response = redirect(url_for("identity_pages.login"))
    response.delete_cookie(COOKIE, path="/")
    return response


@bp.get("/account")
@require_page()
def account():
    return render_template("identity/account.html")


@bp.route("/activate", methods=["GET", "POST"])
@public
def activate():
    """Set the password of an issued account. The activation token comes in the posted
    form — typed, or carried by the button on the アカウント発行申請 receipt — and never
    in the URL. A post with the token alone (from the receipt) shows the password form."""
    token = (request.form.get("token") or "").strip()
    password = request.form.get("password") or ""
    confirm = request.form.get("password_confirm") or ""
    if request.method == "GET" or not password:
        return render_template("identity/activate.html", token=token, error=None,
                               field=None)
    if password != confirm:
        return _activation_error(token, "確認用のパスワードが一致しません。", "password_confirm")
    try:
        with context("identity").transaction() as session:
            account = activation.activate(session, token, password)
            login_name = account.login
    except AccountError as exc:
        return _activation_error(token, str(exc), "password")
    except ApiError as exc:
        return _activation_error("", exc.message, "token", exc.status)
    revocation_changed()        # a reset link ends the account's earlier sessions
    return render_template("identity/activated.html", login=login_name)


def _activation_error(token: str, message: str, field: str, status: int = 422):
    return render_template("identity/activate.html", token=token, error=message,
                           field=field), status


# --- notifications (お知らせ) and mail settings ----------------------------------------

@bp.get("/notifications")
@require_page()
def notifications_page():
    from shared.jst import jst

    principal = page_principal()
    with context("identity").transaction() as session:
        box = notifications.inbox(session, principal.account_id)
    for item in box["items"]:
        item["created_jst"] = jst(item["created_at"])
    return render_template("identity/notifications.html", box=box)


@bp.post("/notifications/<int:notification_id>/read")
@require_page()
def notification_read(notification_id: int):
    with context("identity").transaction() as session:
        notifications.mark_read(session, page_principal().account_id, notification_id)
    flash("お知らせを既読にしました。")
    return redirect(url_for("identity_pages.notifications_page"))


@bp.post("/notifications/read-all")
@require_page()
def notifications_read_all():
    with context("identity").transaction() as session:
        marked = notifications.mark_all_read(session, page_principal().account_id)
    flash(f"{marked} 件のお知らせを既読にしました。")
    return redirect(url_for("identity_pages.notifications_page"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@require_page()
def notification_settings():
    """The account's notification address and the kinds it gets by mail."""
    error, status = None, 200
    with context("identity").transaction() as session:
        account = notifications.account_of(session, page_principal().account_id)
        if request.method == "POST":
            try:
                with session.begin_nested():
                    notifications.change_settings(
                        account, email=request.form.get("email", ""),
                        mail_kinds=request.form.getlist("mail_kinds"))
            except ApiError as exc:
                error, status = exc.message, exc.status
                session.expire(account)
            else:
                flash("通知の設定を保存しました。")
                return redirect(url_for("identity_pages.notification_settings"))
        current = notifications.settings_of(account)
    if error:
        current["email"] = request.form.get("email", "")
    return render_template("identity/notification_settings.html", current=current,
                           error=error), status
