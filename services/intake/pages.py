"""Pages of the intake service: the applicant's dashboard, 申請前情報選択, 様式作成 (the
workbooks), form entry, upload of filled workbooks and PDF attachments (through
``uploads``, the same door checks as ``api_uploads``), submission, withdrawal; the public アカウント発行申請 with its
receipt; the operator's reference-data load; the print view of an application and its
PDF (``printing``: owner, forwarder, reviewers, operators); and the home page that sends
each role to its own pages.

Every page reads and changes intake's data through the same domain functions as
``api.py``; another organisation's application is a 404 on every route (``get_owned``).
"""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from functools import partial
from pathlib import Path

from flask import (Blueprint, Response, abort, flash, redirect, render_template, request,
                   send_file, url_for)
from limits import parse
from marshmallow import ValidationError
from sqlalchemy import func, select

from shared.jst import jst as audit_jst
from shared.auth import public
from shared.pages import html_errors, page_principal, require_page
from shared.pluginmanager import form_specs
from shared.ratelimit import describe, rate_limits
from shared.service import context, plugins
from shared.upload_safety import MAX_ATTACHMENT_BYTES, MAX_UPLOAD_BYTES
from shared.web import ApiError
from services.intake import (account_requests, catalog, deadlines, printing, registered,
                             registry, selection, uploads, validation, workbooks)
from services.intake import applications as apps
from services.intake.models import Application, CatalogVersion, Organisation
from services.intake.schemas import AccountRequestPostSchema

bp = Blueprint("intake_pages", __name__, url_prefix="/applicant", template_folder="templates")
home = Blueprint("intake_home", __name__, url_prefix="/", template_folder="templates")

HOME_OF = {"applicant": "/applicant/", "forwarder": "/review/",
           "primary_reviewer": "/review/", "secondary_reviewer": "/review/",
           "operator": "/master/"}
EXTRA_ROWS = 3  # blank rows for 受任 of affairs / information outside the own catalog


for _bp in (bp, home):
    html_errors(_bp)


# --- home ----------------------------------------------------------------------------

@home.get("/")
@public
def index():
    principal = page_principal()
    if principal is None:
        return render_template("intake/welcome.html")
    return redirect(HOME_OF.get(principal.role, "/auth/account"))


# --- applicant: dashboard and applications -----------------------------------------------

@bp.get("/")
@require_page("applicant")
def dashboard():
    principal = page_principal()
    with context("intake").reading() as session:
        org = session.get(Organisation, principal.org_id)
        items = apps.list_of_org(session, principal.org_id, account_requests=False)
        return render_template("intake/dashboard.html", org=org, items=items,
                               schedule=deadlines.applicant_schedule(session),
                               japanese_date=deadlines.japanese_date)


@bp.post("/applications")
@require_page("applicant")
def create():
    kind = request.form.get("kind", "connection")
    if kind not in ("connection", "change"):
        raise ApiError(422, "validation_failed", "申請の種類は接続申請または変更申請を選んでください。")
    with context("intake").transaction() as session:
        app = apps.create_application(session, page_principal(), kind)
        app_id = app.id
    flash("申請を作成しました。申請前情報を選択してください。")
    return redirect(url_for(".selection_page", app_id=app_id))


def _form_rows(session, app: Application) -> list[dict]:
    """Each form of the application's kind: saved state, findings, whether required."""
    org = apps.org_of(session, app.org_id)
    required = set(validation.required_codes(plugins(), app.kind, org.as_ref()))
    present = {f.code: f for f in app.forms}
    rows = []
    for code, spec in form_specs(plugins()).items():
        entry = present.get(code)
        findings = list(entry.findings if entry else [])
        findings += [f for f in app.findings or []
                     if str(f.get("location", "")).startswith(code)]
        rows.append({"code": code, "title": spec.title, "required": code in required,
                     "workbook": spec.layout is not None,
                     "status": entry.status if entry else None,
                     "revision": entry.revision if entry else 0, "findings": findings})
    return rows


def _render_application(session, app: Application, error: str | None = None,
                        status: int = 200):
    desc = apps.describe(app, context("intake"))
    forms = _form_rows(session, app)
    other = [f for f in app.findings or []
             if not any(str(f.get("location", "")).startswith(r["code"]) for r in forms)]
    decisions = [h for h in desc["history"]
                 if h["event"].endswith(("_approved", "_rejected"))]
    files = uploads.describe(session, app.id)
    attachments = uploads.list_attachments(plugins(), session, app)
    busy = (app.status == "validating" or any(f["status"] == "validating" for f in forms)
            or any(u["status"] == uploads.PENDING for u in files["uploads"])
            ) and not desc["processing_problem"]
    return render_template(
        "intake/application.html", app=desc, forms=forms, other_findings=other,
        decisions=decisions, busy=busy, editable=app.status in apps.EDITABLE,
        withdrawable=app.status in apps.WITHDRAWABLE, uploads=files["uploads"],
        attachments=attachments, error=error,
        delete_url=lambda ref: url_for(".delete_attachment", app_id=app.id, aid=ref),
        changes=registered.change_summary(plugins(), app),
        max_upload=MAX_UPLOAD_BYTES, max_attachment=MAX_ATTACHMENT_BYTES,
        quota=_attachment_quota(session, app)), status


def _attachment_quota(session, app: Application) -> dict:
    settings = context("intake").settings
    count, used = uploads.usage(session, app.id)
    return {"count": count, "bytes": used, "max_count": settings.attachments_max_count,
            "max_bytes": settings.attachments_max_bytes,
            "max_bytes_text": uploads.mib(settings.attachments_max_bytes),
            "rate": describe(parse(settings.upload_rate_limit))}


@bp.get("/applications/<int:app_id>")
@require_page("applicant")
def application(app_id: int):
    with context("intake").transaction() as session:
        app = apps.get_owned(session, page_principal(), app_id)
        return _render_application(session, app)


def _posted_file(limit: int) -> tuple[str, bytes]:
    """(file name, bytes) of the page's field ``file``, read no further than ``limit + 1``
    bytes (the domain functions' size checks refuse anything longer)."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(400, "file_missing", "アップロードするファイルを選んでください。")
    return upload.filename, upload.stream.read(limit + 1)


def _store_file(app_id: int, limit: int, store, done: str):
    """Run ``store(ctx, session, principal, app, filename, content)`` for the owner's
    application; a refused file (4xx) re-renders the page with the Japanese reason and
    nothing stored."""
    ctx = context("intake")
    principal = page_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        try:
            uploads.throttle(ctx.settings, app.id)
            filename, content = _posted_file(limit)
            with session.begin_nested():
                result = store(ctx, session, principal, app, filename, content)
        except ApiError as exc:
            if exc.status == 404 or exc.status >= 500:
                raise
            page, status = _render_application(session, app, exc.message, exc.status)
            return page, status, exc.headers
        message = done.format(result)
    flash(message)
    return redirect(url_for(".application", app_id=app_id))


@bp.post("/applications/<int:app_id>/upload")
@require_page("applicant")
def upload_workbook(app_id: int):
    def store(ctx, session, principal, app, filename, content):
        up = uploads.receive_upload(ctx, plugins(), session, principal, app, filename,
                                    content)
        return "、".join(f"様{c}" for c in up.forms) or "様式"
    return _store_file(app_id, MAX_UPLOAD_BYTES, store,
                       "Excel ファイルを受け付けました（{}）。読込みと検証が終わるとこの画面に結果が表示されます。")


@bp.post("/applications/<int:app_id>/attachments")
@require_page("applicant")
def add_attachment(app_id: int):
    def store(ctx, session, principal, app, filename, content):
        att = uploads.add_attachment(session, principal, app, filename, content,
                                     request.form.get("title", "").strip(),
                                     max_count=ctx.settings.attachments_max_count,
                                     max_bytes=ctx.settings.attachments_max_bytes)
        return att.ref
    return _store_file(app_id, MAX_ATTACHMENT_BYTES, store,
                       "添付資料を登録しました。添付資料ID は {} です。様式にはこの ID を記入してください。")


@bp.post("/applications/<int:app_id>/attachments/<aid>/delete")
@require_page("applicant")
def delete_attachment(app_id: int, aid: str):
    """The applicant deletes an attachment (the page asks to confirm first); a cell still
    naming it gets its error finding when the forms are validated again."""
    ctx = context("intake")
    principal = page_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        try:
            with session.begin_nested():
                uploads.delete_attachment(ctx, plugins(), session, principal, app, aid)
        except ApiError as exc:
            if exc.status != 409:
                raise
            return _render_application(session, app, exc.message, exc.status)
    flash(f"添付資料 {aid} を削除しました。様式にこの添付資料IDが残っている欄は誤りとして表示されます。")
    return redirect(url_for(".application", app_id=app_id) + "#attachments")


@home.get("/intake/applications/<int:app_id>/attachments/<aid>")
@require_page()
def attachment_download(app_id: int, aid: str):
    """An attachment for the logged-in page visitor: the owner's accounts, the case's
    forwarder and reviewers, operators (the API's rule, ``applications.get_readable``);
    the same checked download as ``GET /api/intake/…/attachments/AID``."""
    from services.intake.api_uploads import attachment_response

    with context("intake").transaction() as session:
        app = apps.get_readable(session, page_principal(), app_id)
        return attachment_response(uploads.attachment_file(session, app, aid))


@bp.post("/applications/<int:app_id>/submit")
@require_page("applicant")
def submit(app_id: int):
    ctx = context("intake")
    principal = page_principal()
    try:
        with ctx.transaction() as session:
            app = apps.get_owned(session, principal, app_id, for_update=True)
            apps.submit(ctx, plugins(), session, principal, app)
    except ApiError as exc:
        if exc.status != 422 and exc.code != "phase_closed":
            raise
        flash(exc.message, "error")
        for f in exc.extra.get("findings", [])[:20]:
            flash(f"{f['location']}: {f['message']}", "error")
        return redirect(url_for(".application", app_id=app_id))
    flash("提出しました。提出前の検証が終わると審査に回ります。")
    return redirect(url_for(".application", app_id=app_id))


@bp.post("/applications/<int:app_id>/withdraw")
@require_page("applicant")
def withdraw(app_id: int):
    ctx = context("intake")
    principal = page_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        done = apps.withdraw(ctx, session, principal, app, request.form.get("reason", ""))
    flash("申請を取り下げました。" if done else
          "取下げを依頼しました。審査中のため、審査機関での処理の後に取下げとなります（処理前に判定が確定した場合は取り下げられません）。")
    return redirect(url_for(".application", app_id=app_id))


# --- 申請前情報選択 -------------------------------------------------------------------------

def _split_ids(text: str) -> list[str]:
    return [t for t in text.replace("、", ",").replace(" ", ",").split(",") if t.strip()]


def _state_from_selection(cat: catalog.OrgCatalog, saved: dict | None) -> dict:
    """What each row of the page shows: {"q": {item: (checked, mode, delegators)},
    "p": {info: (checked, mode, counterpart)}, "extra_q": [...], "extra_p": [...]}."""
    chosen_a = {r["item_no"]: r for r in (saved or {}).get("query_affairs", [])}
    chosen_i = {r["info_no"]: r for r in (saved or {}).get("provided_info", [])}
    q, p = {}, {}
    for item, e in cat.affairs.items():
        pick = chosen_a.pop(item, None)
        if pick is None:
            q[item] = (e.automatic, "照会する", "")
        else:
            q[item] = (pick["choice"] != "情報照会を行わない",
                       "受任事務" if pick["choice"] == "受任事務" else "照会する",
                       ", ".join(pick.get("delegators") or []))
    for info, e in cat.info.items():
        pick = chosen_i.pop(info, None)
        if pick is None:
            p[info] = (e.automatic, "提供する", "")
        else:
            p[info] = (pick["choice"] != "情報提供を行わない",
                       pick["choice"] if pick["choice"] != "情報提供を行わない" else "提供する",
                       pick.get("counterpart") or "")
    extra_q = [{"item_no": r["item_no"], "delegators": ", ".join(r.get("delegators") or [])}
               for r in chosen_a.values()]
    extra_p = [{"info_no": r["info_no"], "choice": r["choice"],
                "counterpart": r.get("counterpart") or ""} for r in chosen_i.values()]
    independent = list((saved or {}).get("independent_affairs") or [])
    return {"q": q, "p": p, "extra_q": extra_q, "extra_p": extra_p,
            "independent": independent}


def _selection_from_form(cat: catalog.OrgCatalog, form) -> dict:
    """The page's fields as the body the selection API takes."""
    affairs, infos = [], []
    for item, e in cat.affairs.items():
        checked = form.get(f"q_{item}") == "on"
        mode = form.get(f"qm_{item}", "照会する")
        if checked:
            row = {"item_no": item, "choice": "受任事務" if mode == "受任事務" else "照会する"}
            if row["choice"] == "受任事務":
                row["delegators"] = _split_ids(form.get(f"qd_{item}", ""))
            affairs.append(row)
        elif e.automatic:
            affairs.append({"item_no": item, "choice": "情報照会を行わない"})
    for i in range(EXTRA_ROWS):
        item = form.get(f"xq_{i}", "").strip()
        if item:  # an added 受任事務 row replaces the catalog's row of the same item
            affairs = [r for r in affairs if r["item_no"] != item]
            affairs.append({"item_no": item, "choice": "受任事務",
                            "delegators": _split_ids(form.get(f"xqd_{i}", ""))})
    for info, e in cat.info.items():
        checked = form.get(f"p_{info}") == "on"
        mode = form.get(f"pm_{info}", "提供する")
        if checked:
            row = {"info_no": info, "choice": mode if mode in selection.PROVIDE_CHOICES
                   else "提供する"}
            if row["choice"] in ("受任により情報提供を行う", "委任した"):
                row["counterpart"] = form.get(f"pc_{info}", "").strip()
            infos.append(row)
        elif e.automatic:
            infos.append({"info_no": info, "choice": "情報提供を行わない"})
    for i in range(EXTRA_ROWS):
        info = form.get(f"xp_{i}", "").strip()
        if info:
            infos = [r for r in infos if r["info_no"] != info]
            infos.append({"info_no": info, "choice": "受任により情報提供を行う",
                          "counterpart": form.get(f"xpc_{i}", "").strip()})
    independent = []
    count = form.get("ia_count", "0")
    count = int(count) if count.isascii() and count.isdigit() and len(count) <= 3 else 0
    for i in range(count + EXTRA_ROWS):
        case, name = form.get(f"ia_case_{i}", "").strip(), form.get(f"ia_name_{i}", "")
        if case or name.strip():
            independent.append({"case_no": case, "affair": name.strip()})
    return {"query_affairs": affairs, "provided_info": infos,
            "independent_affairs": independent}


def _render_selection(session, app: Application, state: dict | None = None,
                      problems: list | None = None, status: int = 200):
    org = apps.org_of(session, app.org_id)
    try:
        cat = catalog.catalog_for(session, org, selection.version_of(session, app))
    except catalog.CatalogError:
        raise ApiError(409, "no_catalog",
                       "法令カタログが読み込まれていません（運用者に連絡してください）。") from None
    desc = selection.describe_selection(session, app)
    if state is None:
        state = _state_from_selection(cat, desc["selection"])
    org_desc = registry.describe_org(session, org)
    required = set(validation.required_codes(plugins(), app.kind, org.as_ref()))
    forms = [{"code": c, "title": s.title, "required": c in required}
             for c, s in form_specs(plugins()).items() if s.layout is not None]
    return render_template(
        "intake/selection.html", app=app, org=org_desc, cat=cat, state=state,
        effective=desc["effective"], saved=desc["saved"], problems=problems or [],
        forms=forms, editable=app.status in apps.EDITABLE, extra_rows=EXTRA_ROWS,
        provide_choices=[c for c in selection.PROVIDE_CHOICES if c != "情報提供を行わない"]
    ), status


@bp.get("/applications/<int:app_id>/selection")
@require_page("applicant")
def selection_page(app_id: int):
    with context("intake").transaction() as session:
        app = apps.get_owned(session, page_principal(), app_id)
        return _render_selection(session, app)


@bp.post("/applications/<int:app_id>/selection")
@require_page("applicant")
def save_selection(app_id: int):
    principal = page_principal()
    ctx = context("intake")
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        apps.require_editable(app)
        org = apps.org_of(session, app.org_id)
        cat = catalog.catalog_for(session, org, selection.version_of(session, app))
        body = _selection_from_form(cat, request.form)
        try:
            with session.begin_nested():
                selection.save_selection(session, app, principal.actor(), body)
                apps.history(session, app, "selection_saved", actor=principal.actor(),
                             org_id=principal.org_id)
        except ApiError as exc:
            if exc.status != 422:
                raise
            state = _state_from_selection(cat, body)
            return _render_selection(session, app, state, exc.details or [
                {"location": "", "message": exc.message}], 422)
    flash("申請前情報の選択を保存しました。")
    return redirect(url_for(".selection_page", app_id=app_id) + "#forms")


# --- 様式作成: workbooks --------------------------------------------------------------------

@bp.get("/applications/<int:app_id>/forms/<code>.xlsx")
@require_page(*apps.WORKBOOK_READERS)
def form_workbook(app_id: int, code: str):
    """The applicant's, and its reviewers' (linked from review's case page): reviewed
    workbooks carry the 審査者記入欄."""
    with context("intake").transaction() as session:
        app = apps.get_readable(session, page_principal(), app_id)
        body, name = workbooks.form_workbook(session, plugins(), app, code)
    return send_file(io.BytesIO(body), mimetype=workbooks.XLSX_MIMETYPE, as_attachment=True,
                     download_name=name, max_age=0)


@bp.get("/applications/<int:app_id>/forms.zip")
@require_page(*apps.WORKBOOK_READERS)
def forms_zip(app_id: int):
    """Every form (no ``code``), or the forms chosen on the page (``code`` repeated)."""
    codes = request.args.getlist("code")
    with context("intake").transaction() as session:
        app = apps.get_readable(session, page_principal(), app_id)
        if not codes:
            body, name = workbooks.forms_zip(session, plugins(), app)
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
                for code in dict.fromkeys(codes):
                    data, file_name = workbooks.form_workbook(session, plugins(), app, code)
                    zf.writestr(file_name, data)
            body, name = buf.getvalue(), f"{app.number or app.id}_様式.zip"
    return send_file(io.BytesIO(body), mimetype="application/zip", as_attachment=True,
                     download_name=name, max_age=0)


# --- form entry (the JSON twin of a form) --------------------------------------------------

def _initial_data(session, app: Application, code: str) -> dict:
    """The saved data, else a pre-filled form (registry, selection) as the workbook has it."""
    return workbooks.initial_data(session, plugins(), app, code)


@bp.route("/applications/<int:app_id>/forms/<code>", methods=["GET", "POST"])
@require_page("applicant")
def form_entry(app_id: int, code: str):
    specs = form_specs(plugins())
    if code not in specs:
        abort(404)
    principal = page_principal()
    ctx = context("intake")
    problems: list = []
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=request.method == "POST")
        text = request.form.get("data", "") if request.method == "POST" else None
        if text is not None:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                problems = [{"location": f"{exc.lineno}行目 {exc.colno}文字目",
                             "message": "JSON として読み取れません。形式を確認してください。"}]
            else:
                try:
                    with session.begin_nested():
                        apps.put_form(ctx, plugins(), session, principal, app, code, data)
                except ApiError as exc:
                    if exc.status != 422:
                        raise
                    problems = exc.extra.get("findings") or [
                        {"location": code, "message": exc.message}]
                else:
                    flash(f"様{code}を保存しました。検証の結果は申請の画面に表示されます。")
                    return redirect(url_for(".application", app_id=app_id))
        else:
            text = json.dumps(_initial_data(session, app, code), ensure_ascii=False, indent=2)
        entry = next((f for f in app.forms if f.code == code), None)
        return render_template(
            "intake/form_entry.html", app=app, code=code, spec=specs[code], text=text,
            problems=problems, entry=entry, editable=app.status in apps.EDITABLE,
        ), 422 if problems else 200


# --- the print view and its PDF (owner, forwarder, reviewers, operators) ------------------

@home.get("/intake/applications/<int:app_id>/print")
@require_page()
def print_view(app_id: int):
    """The whole application on one page, laid out for A4 when printed."""
    principal = page_principal()
    with context("intake").transaction() as session:
        app = apps.get_readable(session, principal, app_id)
        doc = printing.document(session, plugins(), app)
        owner = apps.owns(principal, app)
    back = (url_for("intake_pages.application", app_id=app_id) if owner
            else f"/review/applications/{app_id}")
    html = printing.render(doc, for_pdf=False,
                           css_href=url_for("static", filename="print.css"),
                           links={"back": back, "pdf": url_for(".print_pdf", app_id=app_id)})
    return Response(html, mimetype="text/html")


@home.get("/intake/applications/<int:app_id>/print.pdf")
@require_page()
def print_pdf(app_id: int):
    """The PDF of the print view (as GET /api/intake/applications/ID.pdf, with the
    page's login); while it is being made, a page that looks again by itself."""
    made = printing.pdf_for(context("intake"), page_principal(), app_id)
    if made is not None:
        return printing.send_pdf(*made)
    wait = printing.RETRY_SECONDS
    return render_template("intake/pdf_pending.html", app_id=app_id, wait=wait), 202, {
        "Retry-After": str(wait)}


# --- アカウント発行申請 (public) ------------------------------------------------------------

ACCOUNT_FIELDS = ("org", "login", "department", "title", "name", "email", "phone")


@home.route("/account-requests/new", methods=["GET", "POST"])
@public
def account_request():
    values = {k: request.form.get(k, "").strip() for k in ACCOUNT_FIELDS}
    if request.method == "GET":
        return render_template("intake/account_request.html", values=values, problems=[])
    # A field left empty is missing (the schema then says 入力してください).
    body = {k: values[k] for k in ("org", "login") if values[k]}
    body["requester"] = {k: values[k] for k in ("department", "title", "name", "email",
                                                 "phone") if values[k]}
    problems: list[dict] = []
    ctx = context("intake")
    limits, address = rate_limits(), request.remote_addr or "unknown"
    try:
        account_requests.check_address(limits, ctx.settings, address)
        loaded = AccountRequestPostSchema().load(body)
    except ApiError as exc:  # rate-limited: 429 with Retry-After, as the API
        return _limited(values, exc)
    except ValidationError as exc:
        problems = _flatten(exc.messages)
    else:
        try:
            with ctx.transaction() as session:
                app, token = account_requests.create(ctx, session, loaded, admit=partial(
                    account_requests.admit, limits, ctx.settings, address))
                number = app.number
        except ApiError as exc:
            if exc.status >= 500:
                raise
            if exc.status == 429:
                return _limited(values, exc)
            problems = [{"location": "org", "message": exc.message}]
        else:
            return render_template("intake/account_receipt_issued.html", number=number,
                                   token=token), 201
    return render_template("intake/account_request.html", values=values,
                           problems=problems), 422


def _limited(values: dict, exc: ApiError):
    return render_template("intake/account_request.html", values=values, limited=True,
                           problems=[{"location": "", "message": exc.message}]
                           ), exc.status, exc.headers


FIELD_LABELS = {"org": "機関ID", "login": "希望するログイン名", "department": "部署名",
                "title": "職名", "name": "氏名", "email": "メールアドレス", "phone": "電話番号"}


def _flatten(messages, prefix: str = "") -> list[dict]:
    out = []
    for key, value in messages.items():
        if isinstance(value, dict):
            out.extend(_flatten(value, key))
            continue
        for msg in value if isinstance(value, list) else [value]:
            # marshmallow's messages are Japanese already (shared.schemas)
            out.append({"location": FIELD_LABELS.get(key, key), "field": key, "message": msg})
    return out


@home.route("/account-requests/receipt", methods=["GET", "POST"])
@public
def account_receipt():
    """Follow a request: the receipt number and token are posted (never put in a URL)."""
    number = request.form.get("number", "").strip()
    if request.method == "GET":
        return render_template("intake/account_receipt.html", number=number, receipt=None)
    with context("intake").transaction() as session:
        try:
            app = account_requests.by_receipt(session, number, request.form.get("token", "").strip())
        except ApiError as exc:
            return render_template("intake/account_receipt.html", number=number, receipt=None,
                                   error=exc.message), 404
        return render_template("intake/account_receipt.html", number=number,
                               receipt=account_requests.receipt(session, app))


# --- reference data (operator) --------------------------------------------------------

@home.route("/refdata", methods=["GET", "POST"])
@require_page("operator")
def refdata():
    result = None
    with context("intake").transaction() as session:
        if request.method == "POST":
            upload = request.files.get("provided_info")
            try:
                if upload is not None and upload.filename:
                    with tempfile.TemporaryDirectory() as tmp:
                        path = Path(tmp) / "provided_info.csv"
                        upload.save(path)
                        result = catalog.load_refdata(session, path)
                else:
                    result = catalog.load_refdata(session)
            except catalog.CatalogError as exc:
                session.rollback()
                return render_template("intake/refdata.html", versions=[], result=None,
                                       org_count=None, example=False,
                                       error=f"読み込めません: {exc}"), 422
            session.flush()
            registry.announce_directory(context("intake"), session)
        current = catalog.current_version(session)
        versions = [{"id": v.id, "activated_at": v.activated_at, "sources": v.sources,
                     "current": current is not None and v.id == current.id}
                    for v in session.scalars(select(CatalogVersion)
                                             .order_by(CatalogVersion.seq.desc()))]
        orgs = session.scalar(select(func.count(Organisation.id)))
        return render_template("intake/refdata.html", versions=versions, result=result,
                               org_count=orgs, error=None,
                               example=(request.method == "POST" and not (
                                   request.files.get("provided_info")
                                   and request.files["provided_info"].filename)))


# --- late allowances (operator) ---------------------------------------------------------

@home.route("/late-allowances", methods=["GET", "POST"])
@require_page("operator")
def late_allowances():
    """期限後の受付許可: the operator lets an organisation or one application act after
    the end of a phase (the same domain function as POST /api/intake/late-allowances)."""
    error, status = None, 200
    values = {k: request.form.get(k, "").strip() for k in ("phase", "org", "number", "reason")}
    if request.method == "POST":
        try:
            with context("intake").transaction() as session:
                scope: dict = {"org_id": values["org"] or None}
                if values["number"]:
                    app_id = session.scalar(select(Application.id).where(
                        Application.number == values["number"]))
                    if app_id is None:
                        raise ApiError(422, "unknown_number",
                                       f"申請番号「{values['number']}」の申請はありません。")
                    scope["application_id"] = app_id
                allowance = deadlines.allow(session, page_principal(), phase=values["phase"],
                                            reason=values["reason"], **scope)
                allowance_id = allowance.id
        except ApiError as exc:
            if exc.status >= 500:
                raise
            error, status = exc.message, (422 if exc.status == 404 else exc.status)
        else:
            flash(f"期限後の受付を許可しました（許可番号 {allowance_id}）。")
            return redirect(url_for(".late_allowances"))
    with context("intake").transaction() as session:
        items = deadlines.allowances(session)
        orgs = {o.id: o.name for o in session.scalars(select(Organisation).where(
            Organisation.id.in_({i["org"] for i in items if i["org"]})))}
        numbers = {a.id: a.number for a in session.scalars(select(Application).where(
            Application.id.in_({i["application_id"] for i in items if i["application_id"]})))}
    return render_template("intake/late_allowances.html", items=items, orgs=orgs,
                           numbers=numbers, phases=deadlines.CLOSES, values=values,
                           error=error, jst=audit_jst), status
