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

import re
import tempfile
from functools import partial
from pathlib import Path

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, render_template,
                   request, url_for)
from limits import parse
from marshmallow import ValidationError
from shared.jst import jst as audit_jst
from shared.auth import public
from shared.pages import html_errors, page_principal, require_page
from shared.pluginmanager import form_specs
from shared.ratelimit import describe, rate_limits
from shared.service import context, plugins
from shared.upload_safety import MAX_ATTACHMENT_BYTES, MAX_UPLOAD_BYTES, MAX_ZIP_BYTES
from shared import webform
from shared.web import ApiError
from services.intake import (account_requests, catalog, deadlines, org_picker, printing,
                             registered, registry, selection, uploads, validation,
                             workbooks)
from services.intake import applications as apps
from services.intake.models import Application, Organisation
from services.intake.api_forms import download
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
    with context("intake").transaction() as session:
        app = apps.create_application(session, page_principal(),
                                      request.form.get("kind", "connection"))
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
                        status: int = 200, *, upload_errors: list[dict] | None = None,
                        error_field: str = "attachment"):
    desc = apps.describe(app, context("intake"))
    forms = _form_rows(session, app)
    other = [f for f in app.findings or []
             if not any(str(f.get("location", "")).startswith(r["code"]) for r in forms)]
    decisions = [h for h in desc["history"]
                 if h["event"].endswith(("_approved", "_rejected"))]
    files = uploads.list_uploads(session, app.id)
    attachments = uploads.list_attachments(plugins(), session, app)
    busy = (app.status == "validating" or any(f["status"] == "validating" for f in forms)
            or uploads.busy(files)) and not desc["processing_problem"]
    return render_template(
        "intake/application.html", app=desc, forms=forms, other_findings=other,
        decisions=decisions, busy=busy, editable=app.status in apps.EDITABLE,
        withdrawable=app.status in apps.WITHDRAWABLE, uploads=files,
        attachments=attachments, error=error, error_field=error_field,
        upload_errors=upload_errors or [],
        delete_url=lambda ref: url_for(".delete_attachment", app_id=app.id, aid=ref),
        changes=registered.change_summary(plugins(), app),
        max_upload=uploads.megabytes(MAX_UPLOAD_BYTES),
        max_zip=uploads.megabytes(MAX_ZIP_BYTES), max_files=uploads.MAX_BATCH_FILES,
        max_attachment=MAX_ATTACHMENT_BYTES,
        refused=[{**f, **_finding_link(app.id, f)} for f in apps.refused_findings(app) or []],
        receipts=apps.submission_receipts(app),
        history_org_names={code: o.name for code, o in registry.names_of(
            session, [h["org_id"] for h in desc["history"]]).items()},
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
    """Several workbooks and .zip files of workbooks at once (``uploads.receive_files``,
    as ``POST …/uploads/batch``): the files taken are listed with their state; when none
    is, the page again with each file's reason next to the field and nothing stored."""
    from services.intake.api_uploads import posted_files

    ctx = context("intake")
    principal = page_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        try:
            uploads.throttle(ctx.settings, app.id)
            files = posted_files(request)
            with session.begin_nested():
                got = uploads.receive_files(ctx, plugins(), session, principal, app, files)
        except ApiError as exc:
            if exc.status == 404 or exc.status >= 500:
                raise
            each = exc.extra.get("files") or []
            errors = [{"name": f["filename"], "archive": f["archive"],
                       "message": f["error"]["message"]} for f in each] if len(each) > 1 else []
            page, status = _render_application(
                session, app, exc.message, exc.status, upload_errors=errors,
                error_field="upload")
            return page, status, exc.headers
        taken = [r for r in got if r.error is None]
        codes = dict.fromkeys(c for r in taken for c in r.upload.forms)
        refused = len(got) - len(taken)
    flash(f"Excel ファイル {len(taken)} 件を受け付けました（"
          + ("、".join(f"様{c}" for c in codes) or "様式") + "）。"
          + (f"{refused} 件は受け付けられませんでした（理由は下の一覧にあります）。" if refused else "")
          + "読込みと検証が終わるとこの画面に結果が表示されます。")
    return redirect(url_for(".application", app_id=app_id))


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


def _render_submit_confirm(session, app: Application, error: str | None = None,
                           refused: list | None = None, status: int = 200):
    """The 確認画面 of a submission: the forms with their validation state and findings,
    the attachments, what the submission sends and to whom (the routes review reported,
    when known), what still stops it (``apps.submission_blockers``, the rule ``submit``
    applies) and the 「提出する」 button."""
    desc = apps.describe(app, context("intake"))
    forms = _form_rows(session, app)
    blocking = refused if refused is not None else (
        apps.submission_blockers(session, plugins(), app) if app.status in apps.EDITABLE
        else [])
    return render_template(
        "intake/submit_confirm.html", app=desc, forms=forms,
        warnings=[{**f, "form": r["code"]} for r in forms for f in r["findings"]
                  if f.get("severity") != "error"],
        attachments=uploads.list_attachments(plugins(), session, app),
        blocking=[{**f, **_finding_link(app.id, f)} for f in blocking],
        editable=app.status in apps.EDITABLE, org=apps.org_of(session, app.org_id),
        routes=app.routes or {}, error=error), status


def _finding_link(app_id: int, finding: dict) -> dict:
    """{"form", "title", "href"}: where the applicant fixes a finding (the form's page, at the
    field's input, ``#`` + ``webform.anchor_for(path)``); href None for the application as a whole."""
    place = apps.locate(finding.get("location"))
    if finding.get("form"):
        place = {"form": finding["form"], "field": finding.get("field")}
    specs = form_specs(plugins())
    if place["form"] is None or place["form"] not in specs:
        return {"form": None, "href": None, "title": None}
    href = url_for(".form_entry", app_id=app_id, code=place["form"])
    return {"form": place["form"], "title": specs[place["form"]].title,
            "href": href + (f"#{webform.anchor_for(place['field'])}" if place["field"] else "")}


@bp.route("/applications/<int:app_id>/submit", methods=["GET", "POST"])
@require_page("applicant")
def submit(app_id: int):
    """GET: the 確認画面; POST (its 「提出する」): submit, then the receipt (受付完了).
    A refused POST shows the 確認画面 again with the reason; nothing is submitted."""
    ctx = context("intake")
    principal = page_principal()
    if request.method == "GET":
        with ctx.transaction() as session:
            app = apps.get_owned(session, principal, app_id)
            return _render_submit_confirm(session, app, apps.submit_refusal(app))
    try:
        with ctx.transaction() as session:
            app = apps.get_owned(session, principal, app_id, for_update=True)
            apps.submit(ctx, plugins(), session, principal, app)
            session.flush()
            no = apps.submission_receipts(app)[-1]["no"]
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        with ctx.transaction() as session:
            app = apps.get_owned(session, principal, app_id)
            return _render_submit_confirm(session, app, exc.message,
                                          exc.extra.get("findings"), exc.status)
    return redirect(url_for(".receipt", app_id=app_id, no=no))


@bp.get("/applications/<int:app_id>/receipts/<int:no>")
@require_page("applicant")
def receipt(app_id: int, no: int):
    """受付完了: the receipt of one submission (申請番号, the time in Japan, what was
    sent, how the pre-submission check ended), printable; listed on the application page."""
    with context("intake").transaction() as session:
        app = apps.get_owned(session, page_principal(), app_id)
        found = apps.receipt(app, no)
        org = apps.org_of(session, app.org_id)
        return render_template("intake/receipt.html", app=app, receipt=found, org=org,
                               at_text=audit_jst(found["at"], "%Y年%m月%d日 %H時%M分%S秒"),
                               refused=[{**f, **_finding_link(app.id, f)}
                                        for f in apps.refused_findings(app) or []]
                               if found["no"] == len(apps.submission_receipts(app))
                               else None)


@bp.route("/applications/<int:app_id>/withdraw", methods=["GET", "POST"])
@require_page("applicant")
def withdraw(app_id: int):
    """GET: the confirmation of a withdrawal, with an optional reason; POST: withdraw
    (or ask review to, while it is under review). A reason too long: the page again,
    the error at the field, what was typed kept, nothing changed."""
    ctx = context("intake")
    principal = page_principal()
    reason = request.form.get("reason", "")
    error = None
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=request.method == "POST")
        if request.method == "POST":
            try:
                with session.begin_nested():
                    done = apps.withdraw(ctx, session, principal, app, reason)
            except ApiError as exc:
                if exc.status != 422:
                    raise
                error = exc.message
            else:
                flash("申請を取り下げました。" if done else
                      "取下げを依頼しました。審査中のため、審査機関での処理の後に取下げとなります（処理前に判定が確定した場合は取り下げられません）。")
                return redirect(url_for(".application", app_id=app_id))
        return render_template(
            "intake/withdraw_confirm.html", app=app, reason=reason, error=error,
            blocked=apps.withdrawal_refusal(app),
            max_length=apps.WITHDRAW_REASON_MAX, under_review=app.status in apps.UNDER_REVIEW,
        ), 422 if error else 200


# --- 申請前情報選択 -------------------------------------------------------------------------

ROW_PATTERN = re.compile(r"^(query_affairs|provided_info|independent_affairs)\[(\d+)\]"
                         r"(?:（[^）]*）)?(?:\.(\w+))?")


def _row_state(cat: catalog.OrgCatalog, saved: dict | None) -> dict:
    """What each row of the page shows, from a selection (saved, or as posted)::

        {"q": {item: {"checked", "mode", "delegators": [ids]}},
         "p": {info: {"checked", "mode", "counterpart": id}},
         "extra_q": [{"item_no", "delegators"}], "extra_p": [{"info_no", "counterpart"}],
         "independent": [{"case_no", "affair"}]}"""
    chosen_a = {r["item_no"]: r for r in (saved or {}).get("query_affairs", [])}
    chosen_i = {r["info_no"]: r for r in (saved or {}).get("provided_info", [])}
    q, p = {}, {}
    for item, e in cat.affairs.items():
        pick = chosen_a.pop(item, None)
        if pick is None:
            q[item] = {"checked": e.automatic, "mode": "照会する", "delegators": []}
        else:
            q[item] = {"checked": pick["choice"] != "情報照会を行わない",
                       "mode": "受任事務" if pick["choice"] == "受任事務" else "照会する",
                       "delegators": list(pick.get("delegators") or [])}
    for info, e in cat.info.items():
        pick = chosen_i.pop(info, None)
        if pick is None:
            p[info] = {"checked": e.automatic, "mode": "提供する", "counterpart": ""}
        else:
            p[info] = {"checked": pick["choice"] != "情報提供を行わない",
                       "mode": (pick["choice"] if pick["choice"] != "情報提供を行わない"
                                else "提供する"),
                       "counterpart": pick.get("counterpart") or ""}
    extra_q = [{"item_no": r["item_no"], "delegators": list(r.get("delegators") or [])}
               for r in chosen_a.values()]
    extra_p = [{"info_no": r["info_no"], "counterpart": r.get("counterpart") or ""}
               for r in chosen_i.values()]
    independent = list((saved or {}).get("independent_affairs") or [])
    return {"q": q, "p": p, "extra_q": extra_q, "extra_p": extra_p,
            "independent": independent}


def _state_from_form(cat: catalog.OrgCatalog, form) -> dict:
    """The rows exactly as posted (also the mode and organisations of an unticked row),
    for the page shown again after 「検索」 or an error."""
    q = {item: {"checked": form.get(f"q_{item}") == "on",
                "mode": "受任事務" if form.get(f"qm_{item}") == "受任事務" else "照会する",
                "delegators": org_picker.chosen_ids(form, f"qd_{item}")}
         for item in cat.affairs}
    p = {}
    for info in cat.info:
        mode = form.get(f"pm_{info}", "提供する")
        p[info] = {"checked": form.get(f"p_{info}") == "on",
                   "mode": mode if mode in selection.PROVIDE_CHOICES else "提供する",
                   "counterpart": (org_picker.chosen_ids(form, f"pc_{info}") or [""])[0]}
    extra_q = [{"item_no": form.get(f"xq_{i}", "").strip()[:20],
                "delegators": org_picker.chosen_ids(form, f"xqd_{i}")}
               for i in range(EXTRA_ROWS)]
    extra_p = [{"info_no": form.get(f"xp_{i}", "").strip()[:20],
                "counterpart": (org_picker.chosen_ids(form, f"xpc_{i}") or [""])[0]}
               for i in range(EXTRA_ROWS)]
    independent = [{"case_no": c, "affair": a} for c, a in (
        (form.get(f"ia_case_{i}", "").strip(), form.get(f"ia_name_{i}", "").strip())
        for i in range(_independent_count(form) + EXTRA_ROWS)) if c or a]
    return {"q": q, "p": p, "extra_q": extra_q, "extra_p": extra_p,
            "independent": independent}


def _independent_count(form) -> int:
    count = form.get("ia_count", "0")
    return int(count) if count.isascii() and count.isdigit() and len(count) <= 3 else 0


def _selection_from_form(cat: catalog.OrgCatalog, form) -> tuple[dict, dict]:
    """The page's fields as the body the selection API takes, and for each row of the
    body the page row it came from ({section: [row anchor]}, in the body's order)."""
    affairs: list[tuple[dict, str]] = []
    infos: list[tuple[dict, str]] = []
    for item, e in cat.affairs.items():
        checked = form.get(f"q_{item}") == "on"
        mode = form.get(f"qm_{item}", "照会する")
        if checked:
            row = {"item_no": item, "choice": "受任事務" if mode == "受任事務" else "照会する"}
            if row["choice"] == "受任事務":
                row["delegators"] = org_picker.chosen_ids(form, f"qd_{item}")
            affairs.append((row, f"q-{item}"))
        elif e.automatic:
            affairs.append(({"item_no": item, "choice": "情報照会を行わない"}, f"q-{item}"))
    for i in range(EXTRA_ROWS):
        item = form.get(f"xq_{i}", "").strip()
        if item:  # an added 受任事務 row replaces the catalog's row of the same item
            affairs = [(r, a) for r, a in affairs if r["item_no"] != item]
            affairs.append(({"item_no": item, "choice": "受任事務",
                             "delegators": org_picker.chosen_ids(form, f"xqd_{i}")}, f"xq-{i}"))
    for info, e in cat.info.items():
        checked = form.get(f"p_{info}") == "on"
        mode = form.get(f"pm_{info}", "提供する")
        if checked:
            row = {"info_no": info, "choice": mode if mode in selection.PROVIDE_CHOICES
                   else "提供する"}
            if row["choice"] in ("受任により情報提供を行う", "委任した"):
                row["counterpart"] = (org_picker.chosen_ids(form, f"pc_{info}") or [""])[0]
            infos.append((row, f"p-{info}"))
        elif e.automatic:
            infos.append(({"info_no": info, "choice": "情報提供を行わない"}, f"p-{info}"))
    for i in range(EXTRA_ROWS):
        info = form.get(f"xp_{i}", "").strip()
        if info:
            infos = [(r, a) for r, a in infos if r["info_no"] != info]
            infos.append(({"info_no": info, "choice": "受任により情報提供を行う",
                           "counterpart": (org_picker.chosen_ids(form, f"xpc_{i}") or [""])[0]},
                          f"xp-{i}"))
    independent, ia_rows = [], []
    for i in range(_independent_count(form) + EXTRA_ROWS):
        case, name = form.get(f"ia_case_{i}", "").strip(), form.get(f"ia_name_{i}", "")
        if case or name.strip():
            independent.append({"case_no": case, "affair": name.strip()})
            ia_rows.append(f"ia-{len(independent) - 1}")
    body = {"query_affairs": [r for r, _ in affairs], "provided_info": [r for r, _ in infos],
            "independent_affairs": independent}
    origins = {"query_affairs": [a for _, a in affairs],
               "provided_info": [a for _, a in infos], "independent_affairs": ia_rows}
    return body, origins


SECTION_LABEL = {"query_affairs": "情報照会", "provided_info": "情報提供",
                 "independent_affairs": "独自利用事務"}


def _row_label(anchor: str, body_row: dict | None) -> str:
    kind, _, key = anchor.partition("-")
    if kind in ("q", "xq"):
        return f"情報照会 項番 {(body_row or {}).get('item_no') or key}"
    if kind in ("p", "xp"):
        return f"情報提供 特定個人情報番号 {(body_row or {}).get('info_no') or key}"
    return f"独自利用事務 {int(key) + 1} 行目"


def _problems_by_row(problems: list[dict], body: dict, origins: dict) -> list[dict]:
    """The selection's problems located on the page's rows: each with ``anchor`` (the
    row's id, "row-" + anchor), ``label`` (the row in Japanese) and ``field``
    (delegators, counterpart, or None for the row itself); never a field path."""
    out = []
    for p in problems:
        m = ROW_PATTERN.match(str(p.get("location", "")))
        anchor = None
        if m and m.group(1) in origins and int(m.group(2)) < len(origins[m.group(1)]):
            section, index = m.group(1), int(m.group(2))
            anchor = origins[section][index]
            out.append({"anchor": anchor, "label": _row_label(anchor, body[section][index]),
                        "field": m.group(3), "message": p["message"]})
        else:
            out.append({"anchor": None, "label": p.get("label", ""), "field": None,
                        "message": p["message"]})
    return out


def _row_groups(cat: catalog.OrgCatalog, state: dict, problems: list[dict],
                saved: bool, searched: str) -> dict:
    """The page's sections (one <details> each) with their counts, opened when they
    hold an error, a search, or a choice other than the default."""
    bad = {p["anchor"] for p in problems if p["anchor"]}

    def group(key, title, anchors, chosen, changed, word):
        errors = sum(1 for a in anchors if a in bad)
        items = [a.partition("-")[2] for a in anchors]
        pick_names = {f"qd_{a[2:]}" if a.startswith("q-") else f"pc_{a[2:]}" if a.startswith("p-")
                      else f"xqd_{a[3:]}" if a.startswith("xq-") else f"xpc_{a[3:]}"
                      for a in anchors}
        return {"key": key, "title": title, "rows": items, "chosen": chosen,
                "total": len(anchors) if not key.endswith(("extra", "ia")) else chosen,
                "errors": errors, "word": word,
                "open": bool(errors or changed or searched in pick_names)}

    def by_registry(prefix, title, rows, default):
        """The rows the organisation's kind decides, ``default`` unless changed."""
        own = state[prefix]
        return group(f"{prefix}-auto", title, [f"{prefix}-{i}" for i in rows],
                     sum(own[i]["checked"] for i in rows),
                     any(not own[i]["checked"] or own[i]["mode"] != default for i in rows),
                     default)

    def by_choice(prefix, title, rows):
        """The rows chosen when they apply (open until first saved, or when any is)."""
        own = state[prefix]
        return group(f"{prefix}-pick", title, [f"{prefix}-{i}" for i in rows],
                     sum(own[i]["checked"] for i in rows),
                     not saved or any(own[i]["checked"] for i in rows), "選択")

    def split(entries):
        return ([i for i, e in entries.items() if e.automatic],
                [i for i, e in entries.items() if not e.automatic])

    q_auto, q_pick = split(cat.affairs)
    p_auto, p_pick = split(cat.info)
    xq = [x for x in state["extra_q"] if x["item_no"] or x["delegators"]]
    xp = [x for x in state["extra_p"] if x["info_no"] or x["counterpart"]]
    return {
        "q_auto": by_registry("q", "機関の区分から決まる事務", q_auto, "照会する"),
        "q_pick": by_choice("q", "該当する場合に選ぶ事務（事務選択）", q_pick),
        "q_extra": group("q-extra", "他の機関の事務を受任する場合（受任事務の追加）",
                         [f"xq-{i}" for i in range(EXTRA_ROWS)], len(xq), bool(xq), "入力"),
        "p_auto": by_registry("p", "機関の区分から決まる特定個人情報", p_auto, "提供する"),
        "p_pick": by_choice("p", "該当する場合に選ぶ特定個人情報", p_pick),
        "p_extra": group("p-extra", "受任により情報提供を行う場合（追加）",
                         [f"xp-{i}" for i in range(EXTRA_ROWS)], len(xp), bool(xp), "入力"),
        "independent": group("ia", "届け出た独自利用事務",
                             [f"ia-{i}" for i in range(len(state["independent"]) + EXTRA_ROWS)],
                             len(state["independent"]), bool(state["independent"]), "入力"),
    }


def _selection_pickers(session, cat: catalog.OrgCatalog, state: dict, form=None) -> dict:
    chosen: dict[str, list[str]] = {}
    multiple: dict[str, bool] = {}
    for item, s in state["q"].items():
        chosen[f"qd_{item}"], multiple[f"qd_{item}"] = s["delegators"], True
    for info, s in state["p"].items():
        chosen[f"pc_{info}"] = [s["counterpart"]] if s["counterpart"] else []
    for i in range(EXTRA_ROWS):
        x = state["extra_q"][i] if i < len(state["extra_q"]) else {"delegators": []}
        chosen[f"xqd_{i}"], multiple[f"xqd_{i}"] = x["delegators"], True
        x = state["extra_p"][i] if i < len(state["extra_p"]) else {"counterpart": ""}
        chosen[f"xpc_{i}"] = [x["counterpart"]] if x["counterpart"] else []
    pickers = org_picker.Pickers(session, search_url=url_for("intake_home.organisations_json"))
    return pickers.build(chosen, multiple=multiple, form=form)


def _render_selection(session, app: Application, state: dict | None = None,
                      problems: list | None = None, status: int = 200, form=None):
    org = apps.org_of(session, app.org_id)
    try:
        cat = catalog.catalog_for(session, org, selection.version_of(session, app))
    except catalog.CatalogError:
        raise ApiError(409, "no_catalog",
                       "法令カタログが読み込まれていません（運用者に連絡してください）。") from None
    desc = selection.describe_selection(session, app)
    if state is None:
        state = _row_state(cat, desc["selection"])
    problems = problems or []
    org_desc = registry.describe_org(session, org)
    required = set(validation.required_codes(plugins(), app.kind, org.as_ref()))
    posted_codes = form.getlist("code") if form is not None else None
    forms = [{"code": c, "title": s.title, "required": c in required,
              "checked": (c in posted_codes) if posted_codes is not None else c in required}
             for c, s in form_specs(plugins()).items() if s.layout is not None]
    searched = form.get(org_picker.SEARCH_BUTTON, "") if form is not None else ""
    effective = desc["effective"]
    named = registry.names_of(session, [d for r in effective["query_affairs"]
                                        for d in r["delegators"]]
                              + [r["counterpart"] for r in effective["provided_info"]])
    errors: dict[str, list[dict]] = {}
    pickers = _selection_pickers(session, cat, state, form)
    for p in problems:
        if p["anchor"]:
            errors.setdefault(p["anchor"], []).append(p)
        if p["field"] in ("delegators", "counterpart") and p["anchor"]:
            kind, _, key = p["anchor"].partition("-")
            name = {"q": "qd_", "p": "pc_", "xq": "xqd_", "xp": "xpc_"}.get(kind, "") + key
            if name in pickers:    # the search opens on the row whose organisation is wrong
                pickers[name].wrong = True
    return render_template(
        "intake/selection.html", app=app, org=org_desc, cat=cat, state=state,
        effective=effective, saved=desc["saved"], problems=problems, errors=errors,
        groups=_row_groups(cat, state, problems, desc["saved"], searched),
        pickers=pickers, named=named,
        forms=forms, editable=app.status in apps.EDITABLE, extra_rows=EXTRA_ROWS,
        forms_error=(problems[0]["message"] if problems and problems[0].get("field") == "code"
                     else ""),
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
    """Save the posted choices; with 「保存して様式を作成」 (``make_forms``, or
    ``make_form=CODE`` for one form) the forms are made right after the save, from what
    was just saved, and never when the save was refused. 「検索」 of an organisation
    picker (``org_search``) only shows the page again with the matches, storing nothing."""
    principal = page_principal()
    ctx = context("intake")
    form = request.form
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        apps.require_editable(app)
        org = apps.org_of(session, app.org_id)
        cat = catalog.catalog_for(session, org, selection.version_of(session, app))
        if form.get(org_picker.SEARCH_BUTTON):
            return _render_selection(session, app, _state_from_form(cat, form), form=form)
        body, origins = _selection_from_form(cat, form)
        codes = list(dict.fromkeys(form.getlist("code")))
        one = form.get("make_form", "")
        if form.get("make_forms") and not codes:
            return _render_selection(session, app, _state_from_form(cat, form), [
                {"anchor": "forms", "label": "様式作成", "field": "code",
                 "message": "作成する様式を1つ以上選んでください（選択内容も保存していません）。"}],
                422, form=form)
        try:
            with session.begin_nested():
                apps.save_selection(session, principal, app, body)
        except ApiError as exc:
            if exc.status != 422:
                raise
            problems = _problems_by_row(exc.details or [{"location": "", "message": exc.message}],
                                        body, origins)
            return _render_selection(session, app, _state_from_form(cat, form), problems,
                                     422, form=form)
    if one:
        return redirect(url_for(".form_workbook", app_id=app_id, code=one), 303)
    if form.get("make_forms"):
        return redirect(url_for(".forms_zip", app_id=app_id, code=codes), 303)
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
    return download(body, name, workbooks.XLSX_MIMETYPE)


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
            body, name = workbooks.chosen_forms_zip(session, plugins(), app, codes)
    return download(body, name, "application/zip")


# --- form entry: the web form generated from the plugin's FormSpec ----------------------

def _initial_data(session, app: Application, code: str) -> dict:
    """The saved data, else a pre-filled form (registry, selection) as the workbook has it."""
    return workbooks.initial_data(session, plugins(), app, code)


def _render_form(session, app: Application, spec, data: dict, findings, *, status=200,
                 alert=False, dirty=False, form=None):
    """``form``: the posted page, whose organisation pickers keep what was typed in their
    search (and show the matches of the one whose 「検索」 was pressed)."""
    org = session.get(Organisation, app.org_id)
    sel = (workbooks.selection_rows(session, app)
           if spec.code in workbooks.SELECTION_FORMS else None)
    view = webform.build(spec, data, header=workbooks.workbook_header(session, app, org),
                         findings=findings,
                         cell_choices=workbooks.procedure_choices(spec.code, data, sel))
    org_picker.for_form(session, view, form=form,
                        search_url=url_for("intake_home.organisations_json"))
    entry = next((f for f in app.forms if f.code == spec.code), None)
    return render_template(
        "intake/form_entry.html", app=app, code=spec.code, spec=spec, view=view,
        entry=entry, alert=alert, dirty=dirty, editable=app.status in apps.EDITABLE), status


def _unknown_orgs(session, spec, data: dict) -> list[dict]:
    """Findings for organisation codes of ``data`` the registry does not know."""
    view = webform.build(spec, data)
    org_picker.for_form(session, view)
    return org_picker.unknown_in_form(view)


@bp.route("/applications/<int:app_id>/forms/<code>", methods=["GET", "POST"])
@require_page("applicant")
def form_entry(app_id: int, code: str):
    """様式の入力: the form's web page, generated from its plugin's FormSpec
    (shared.webform). Saving goes through ``applications.put_form``, as
    ``PUT /api/intake/applications/ID/forms/CODE`` does; the no-JavaScript row buttons
    (行を追加 / 削除) and an organisation picker's 「検索」 re-render what was posted with
    the row added or removed, or with the matches, saving nothing. An organisation code
    the registry does not know is refused at its field, nothing saved."""
    spec = form_specs(plugins()).get(code)
    if spec is None or spec.layout is None:
        abort(404)
    principal = page_principal()
    ctx = context("intake")
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=request.method == "POST")
        if request.method == "GET":
            entry = next((f for f in app.forms if f.code == code), None)
            findings = [f.as_dict() for f in workbooks.findings_of(app, entry, code)]
            return _render_form(session, app, spec, _initial_data(session, app, code),
                                findings)
        data = webform.data_from_post(spec, request.form)
        if request.form.get(org_picker.SEARCH_BUTTON):
            return _render_form(session, app, spec, data, [], dirty=True, form=request.form)
        action = request.form.get(webform.ACTION, "save")
        if action != "save":
            webform.apply_action(spec, data, action)
            return _render_form(session, app, spec, data, [], dirty=True)
        unknown = _unknown_orgs(session, spec, data)
        if unknown:
            return _render_form(session, app, spec, data, unknown, status=422, alert=True,
                                dirty=True, form=request.form)
        try:
            with session.begin_nested():
                apps.put_form(ctx, plugins(), session, principal, app, code, data)
        except ApiError as exc:
            if exc.status != 422:
                raise
            findings = exc.extra.get("findings") or [
                {"severity": "error", "location": "", "message": exc.message}]
            return _render_form(session, app, spec, data, findings, status=422, alert=True,
                                dirty=True, form=request.form)
    flash(f"様{code}を保存しました。検証が終わると、指摘事項がこの画面の各欄と申請の画面に表示されます。")
    return redirect(url_for(".form_entry", app_id=app_id, code=code))


# --- the organisation picker's search (with JavaScript) ------------------------------------

@home.get("/intake/organisations.json")
@require_page()
def organisations_json():
    """The page twin of ``GET /api/intake/organisations`` for the organisation picker's
    script (the page's login cookie; the API takes bearer tokens only): ?pref= (code,
    2-digit number or name), q=, applying=1, offset=; at most 50 a page."""
    try:
        offset = min(max(int(request.args.get("offset", 0)), 0), 100_000)
    except ValueError:
        offset = 0
    with context("intake").transaction() as session:
        pref = request.args.get("pref", "").strip()
        found = registry.search_organisations(
            session, q=request.args.get("q", "")[:100],
            prefecture=(registry.prefecture_code(session, pref) or pref) if pref else None,
            applying_only=request.args.get("applying") == "1",
            limit=registry.PICKER_LIMIT, offset=offset)
    return jsonify(found)


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


def _account_picker(session, form) -> org_picker.Picker:
    """The 機関 of the アカウント発行申請: one organisation that can apply (the page is
    public, so the picker has no script search: 「検索」 posts the page)."""
    ids = org_picker.chosen_ids(form, "org")[:1] if form is not None else []
    return org_picker.Pickers(session, applying_only=True).build(
        {"org": ids}, multiple={}, form=form)["org"]


def _account_page(values: dict, problems: list[dict], status: int = 200, *,
                  limited: bool = False, headers=None):
    form = request.form if request.method == "POST" else None
    with context("intake").transaction() as session:
        picker = _account_picker(session, form)
    picker.error = picker.error or next(
        (p["message"] for p in problems if p.get("field") == "org"), "")
    field_errors: dict[str, list[str]] = {}
    for p in problems:
        if p.get("field") and p["field"] != "org":
            field_errors.setdefault(p["field"], []).append(p["message"])
    return render_template("intake/account_request.html", values=values, problems=problems,
                           picker=picker, field_errors=field_errors, limited=limited
                           ), status, headers or {}


@home.route("/account-requests/new", methods=["GET", "POST"])
@public
def account_request():
    values = {k: request.form.get(k, "").strip() for k in ACCOUNT_FIELDS}
    if request.method == "GET":
        return _account_page(values, [])
    values["org"] = (org_picker.chosen_ids(request.form, "org") or [""])[0]
    if request.form.get(org_picker.SEARCH_BUTTON):    # 「検索」: the page again, nothing filed
        return _account_page(values, [])
    with context("intake").transaction() as session:
        wrong = org_picker.check_single(_account_picker(session, request.form), "機関")
    if wrong:
        return _account_page(values, [{"location": "機関", "field": "org", "message": wrong}],
                             422)
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
            problems = [{"location": FIELD_LABELS["org"], "field": "org",
                         "message": exc.message}]
        else:
            return render_template("intake/account_receipt_issued.html", number=number,
                                   token=token), 201
    for p in problems:
        if p.get("field") == "org" and not values["org"]:
            p["message"] = "機関を選んでください（都道府県と機関名で検索できます）。"
    return _account_page(values, problems, 422)


def _limited(values: dict, exc: ApiError):
    return _account_page(values, [{"location": "", "message": exc.message}], exc.status,
                         limited=True, headers=exc.headers)


FIELD_LABELS = {"org": "機関", "login": "希望するログイン名", "department": "部署名",
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


# --- the account requests (operator) -----------------------------------------------------

@home.get("/account-requests")
@require_page("operator")
def account_requests_list():
    """Every アカウント発行申請 with search, status filter, sort and pages of 50 (the
    function behind GET /api/intake/account-requests)."""
    query, problems = account_requests.parse_query(request.args)
    with context("intake").transaction() as session:
        page = account_requests.search(session, query)
    return render_template("intake/account_requests.html", page=page, query=query,
                           problems=problems, statuses=account_requests.STATUSES,
                           sorts=account_requests.SORTS), \
        422 if problems else 200


@home.get("/account-requests.csv")
@require_page("operator")
def account_requests_csv():
    return account_requests.csv_response(request.args)


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
        versions = [{**v, "id": v["version"]} for v in reversed(catalog.versions(session))]
        orgs = registry.count(session)
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
                    scope["application_id"] = apps.id_of_number(session, values["number"])
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
        orgs = registry.org_names(session, {i["org"] for i in items})
        numbers = apps.numbers_of(session, {i["application_id"] for i in items})
    return render_template("intake/late_allowances.html", items=items, orgs=orgs,
                           numbers=numbers, phases=deadlines.CLOSES, values=values,
                           error=error, jst=audit_jst), status
