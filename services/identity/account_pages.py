"""The operators' account pages (/auth/accounts): the list with search, filters, sort
and pages of 50; creating an account with any role; an account's page with its state,
its history (identity's audit log) and the actions — change the role, disable or
enable (both confirmed on a page of their own first), a one-time password link (shown
once, mailed when the account has an address), end sessions, lift a login lock.

Every action calls the function the API and ``nws users`` call (services.identity.admin).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from shared.auth import ROLES, revocation_changed
from shared.pages import ROLE_LABELS, html_errors, page_principal, require_page
from shared.service import context
from shared.vocabulary import AUDIT_ACTIONS, AUDIT_ACTOR_ROLES
from services.identity import admin
from services.identity.accounts import AccountError

bp = Blueprint("identity_accounts", __name__, url_prefix="/auth/accounts",
               template_folder="templates")
html_errors(bp)

FIELDS = ("login", "org", "role", "name", "department", "email")
ACTIONS = AUDIT_ACTIONS["identity"]


@bp.get("/")
@require_page("operator")
def index():
    query, problems = admin.parse_query(request.args)
    with context("identity").transaction() as session:
        page = admin.search(session, query)
    return render_template("identity/accounts.html", page=page, query=query,
                           problems=problems, roles=ROLE_LABELS, states=admin.STATES,
                           sorts=admin.SORTS), 422 if problems else 200


@bp.route("/new", methods=["GET", "POST"])
@require_page("operator")
def new():
    values = {k: request.form.get(k, "").strip() for k in FIELDS}
    if request.method == "GET":
        values["role"] = request.args.get("role", "") if request.args.get("role") in ROLES else ""
        values["org"] = request.args.get("org", "")[:40]
        return render_template("identity/account_new.html", values=values, error=None,
                               field=None, roles=ROLE_LABELS)
    password = request.form.get("password") or ""
    confirm = request.form.get("password_confirm") or ""
    error = field = None
    if not values["login"]:
        error, field = "ログイン名を入力してください。", "login"
    elif not values["org"]:
        error, field = "機関コードを入力してください。", "org"
    elif values["role"] not in ROLES:
        error, field = "役割を選んでください。", "role"
    elif password != confirm:
        error, field = "確認用のパスワードが一致しません。", "password_confirm"
    if error is None:
        try:
            with context("identity").transaction() as session:
                admin.create(session, login=values["login"], password=password,
                             org_id=values["org"], role=values["role"], name=values["name"],
                             department=values["department"], email=values["email"] or None)
        except AccountError as exc:
            error, field = str(exc), exc.field or "password"
    if error is not None:
        return render_template("identity/account_new.html", values=values, error=error,
                               field=field, roles=ROLE_LABELS), 422
    flash(f"アカウント {values['login']} を作成しました。")
    return redirect(url_for(".show", login_name=values["login"]))


class Answer(Exception):
    """A page to render once the transaction is over (the page layout opens its own)."""

    def __init__(self, template: str, status: int = 200, **context):
        super().__init__(template)
        self.template, self.status, self.context = template, status, context

    def render(self):
        return render_template(self.template, **self.context), self.status


def _account_page(session, account, *, status: int = 200, error: str | None = None,
                  link: dict | None = None) -> Answer:
    return Answer("identity/account_admin.html", status,
                  account=admin.account_view(session, account),
                  history=admin.history(session, account), actions=ACTIONS,
                  actor_roles=AUDIT_ACTOR_ROLES,
                  roles=ROLE_LABELS, error=error, link=link,
                  own=account.id == page_principal().account_id)


def _confirm_page(session, account, action: str, role: str = "") -> Answer:
    return Answer("identity/account_confirm.html", account=admin.account_view(session, account),
                  action=action, role=role, roles=ROLE_LABELS)


@bp.get("/<login_name>")
@require_page("operator")
def show(login_name: str):
    with context("identity").transaction() as session:
        answer = _account_page(session, admin.account(session, login_name))
    return answer.render()


def _account_change(login_name: str, check, action: tuple | None, apply, done: str):
    """A role change or a disable/enable, as the API's PATCH does it (the same domain
    rules, ``admin.own_account_refusal``): ``check(account)`` is why it is refused
    (the account's page again, 422); ``action`` names the confirmation page asked first
    (None: no confirmation); ``apply(account)`` changes it (an AccountError: the page
    again with it); then the flash ``done`` and the account's page."""
    try:
        with context("identity").transaction() as session:
            account = admin.account(session, login_name)
            error = admin.own_account_refusal(account, page_principal().account_id) \
                or check(account)
            if error is not None:
                raise _account_page(session, account, status=422, error=error)
            if action and request.form.get("confirmed") != "yes":
                raise _confirm_page(session, account, *action)
            try:
                with session.begin_nested():
                    apply(account)
            except AccountError as exc:
                raise _account_page(session, account, status=422, error=str(exc)) from None
    except Answer as answer:
        return answer.render()
    revocation_changed()
    flash(done)
    return redirect(url_for(".show", login_name=login_name))


@bp.post("/<login_name>/role")
@require_page("operator")
def change_role(login_name: str):
    """A role change: first a confirmation page; the change once it is confirmed."""
    role = request.form.get("role", "")

    def check(account):
        if role not in ROLES:
            return "役割を選んでください。"
        return "現在と同じ役割です。" if role == account.role else None

    return _account_change(login_name, check, ("role", role),
                           lambda account: admin.set_role(account, role),
                           f"{login_name} の役割を「{ROLE_LABELS.get(role, role)}」に変更しました。")


@bp.post("/<login_name>/active")
@require_page("operator")
def change_active(login_name: str):
    """Disable (after a confirmation page) or enable."""
    active = request.form.get("active") == "true"
    return _account_change(login_name, lambda account: None,
                           None if active else ("disable",),
                           lambda account: admin.set_active(account, active),
                           f"{login_name} を{'有効' if active else '無効'}にしました。")


@bp.post("/<login_name>/password-link")
@require_page("operator")
def password_link(login_name: str):
    """A one-time link that sets the password: its token is shown on this answer only."""
    ctx = context("identity")
    try:
        with ctx.transaction() as session:
            account = admin.account(session, login_name)
            try:
                with session.begin_nested():
                    token, expires, mailed = admin.issue_password_link(ctx, session, account)
            except AccountError as exc:
                raise _account_page(session, account, status=422, error=str(exc)) from None
            answer = _account_page(session, account, link={
                "token": token, "expires_at": expires.isoformat(), "mailed": mailed})
    except Answer as refused:
        return refused.render()
    return answer.render()


@bp.post("/<login_name>/sessions")
@require_page("operator")
def end_sessions(login_name: str):
    with context("identity").transaction() as session:
        admin.end_sessions(admin.account(session, login_name))
    revocation_changed()
    flash(f"{login_name} のすべてのセッションを終了しました。")
    return redirect(url_for(".show", login_name=login_name))


@bp.post("/<login_name>/lock")
@require_page("operator")
def unlock(login_name: str):
    with context("identity").transaction() as session:
        admin.account(session, login_name)
        done = admin.unlock(session, login_name)
    flash(f"{login_name} のログイン制限を解除しました。" if done
          else f"{login_name} にログイン制限はありません。")
    return redirect(url_for(".show", login_name=login_name))
