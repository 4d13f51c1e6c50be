"""A printable application: the print view (one HTML document with every form, the
selection, the attachments, the findings and the whole history, in Japanese) and its
PDF, made by an intake task with a real converter (services/intake/pdf.py).

The same document serves the page (``/intake/applications/ID/print``) and the PDF
(``GET /api/intake/applications/ID.pdf``); :func:`document` builds it and
:func:`render` writes it with ``intake/print.html`` and ``shared/static/print.css``. Its
``revision`` (sha256 of the document, the template and the style sheet) keys the PDF
cache: a PDF is made once per revision, and any change to what the view shows makes a
new one.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import pluggy
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import vocabulary
from shared.jst import jst
from shared.pages import add_template_vocabulary, file_size
from shared.auth import Principal
from shared.config import Settings
from shared.db import utcnow
from shared.formview import form_view, location_label
from shared.messaging import ServiceContext
from shared.pages import STATIC, TEMPLATES
from shared.pluginmanager import form_specs
from shared.web import ApiError
from services.intake import pdf, selection, uploads, workbooks
from services.intake.models import Application, Organisation, PrintPdf

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).parent / "templates" / "intake" / "print.html"
CSS = STATIC / "print.css"
PENDING, DONE, FAILED = "pending", "done", "failed"
NO_CONVERTER = "no_converter"
RETRY_FAILED_AFTER = dt.timedelta(seconds=60)   # a failed PDF is tried again after this
RETRY_SECONDS = 3                                # Retry-After of a 202
POLL = 0.2                                       # seconds between looks at a pending PDF
KB, MB = 1024, 1024 * 1024
NO_CONVERTER_MESSAGE = ("PDF を作成できません: このサーバーに PDF 変換ソフト（Chromium または "
                        "LibreOffice）がインストールされていません。運用者に連絡してください"
                        "（印刷用表示の画面からブラウザーで印刷することはできます）。")
PENDING_MESSAGE = "PDF を作成しています。Retry-After の秒数の後に、同じ URL をもう一度取得してください。"
FAILED_MESSAGE = "PDF の作成に失敗しました。しばらくしてから再度お試しください。"
# a marshmallow path in parentheses at the end of a schema finding's label
_PATH_IN_MESSAGE = re.compile(r"（[A-Za-z_][\w.\[\]]*）")
_CHOICE_ORG = {"受任事務": "委任元", "受任により情報提供を行う": "委任元", "委任した": "委任先"}


def _decision(event: str) -> str:
    if event.endswith("_approved"):
        return "承認"
    if event.endswith("_rejected"):
        return "差戻し" if event.startswith("forwarding") else "否認"
    return ""


def _finding(f: dict, specs: dict, code: str | None = None) -> dict:
    return {"severity": f.get("severity", ""),
            "location": location_label(f.get("location"), specs, code),
            "message": _PATH_IN_MESSAGE.sub("", str(f.get("message", "")))}


def document(session: Session, pm: pluggy.PluginManager, app: Application) -> dict[str, Any]:
    """What the print view shows, every value ready to print (Japanese labels, JST
    times, organisations by name)."""
    specs = form_specs(pm)
    names: dict[str, str] = {}

    def org_name(org_id: str | None) -> str:
        if not org_id:
            return ""
        if org_id not in names:
            found = session.get(Organisation, org_id)
            names[org_id] = f"{found.name}（{org_id}）" if found else org_id
        return names[org_id]

    org = session.get(Organisation, app.org_id)
    header = workbooks.header_values(session, org)
    try:
        effective = selection.effective_rows(session, app)
    except ApiError:
        effective = None      # no legal catalog loaded
    sel = None
    if effective is not None:
        sel = {"query_affairs": [
                   {"item_no": r["item_no"], "affair": r["affair"], "choice": r["choice"],
                    "orgs": "、".join(org_name(o) for o in r.get("delegators") or [])}
                   for r in effective["query_affairs"]],
               "provided_info": [
                   {"info_no": r["info_no"], "info_name": r["info_name"], "choice": r["choice"],
                    "orgs": (f"{_CHOICE_ORG.get(r['choice'], '相手方')}: {org_name(r['counterpart'])}"
                             if r.get("counterpart") else "")}
                   for r in effective["provided_info"]],
               "independent_affairs": [
                   {"case_no": r.get("case_no", ""), "affair": r.get("affair", "")}
                   for r in effective.get("independent_affairs") or []]}
    present = {f.code: f for f in app.forms}
    forms = [{"code": code, "title": spec.title,
              "status": vocabulary.STATUS_LABELS.get(present[code].status, "")
              if code in present else "",
              "view": form_view(spec, present[code].data or {}, header),
              "findings": [_finding(f, specs, code) for f in present[code].findings or []]}
             for code, spec in specs.items() if code in present]
    files = uploads.describe(session, app.id)
    attachments = [{"id": a["id"], "filename": a["filename"], "title": a["title"],
                    "size": file_size(a["size"]), "at": jst(a["at"])}
                   for a in files["attachments"]]
    history = [{"at": jst(h.at), "round": h.round, "event": h.event,
                "decision": _decision(h.event), "status": h.status, "stage": h.stage,
                "org": org_name(h.org_id), "actor": (h.actor or {}).get("name", ""),
                "comment": h.comment or ""} for h in app.history]
    return {
        "id": app.id, "number": app.number or "", "kind": vocabulary.KIND.get(app.kind, ""),
        "status": vocabulary.STATUS_LABELS.get(app.status, ""), "round": app.round,
        "org": {"id": org.id, "name": org.name, "prefecture": header.get("prefecture", "")},
        "catalog_version": app.catalog_version or "",
        "created_at": jst(app.created_at), "submitted_at": jst(app.submitted_at),
        "selection": sel, "forms": forms,
        "findings": [_finding(f, specs) for f in app.findings or []],
        "attachments": attachments, "history": history,
    }


@functools.lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader([str(TEMPLATE.parent.parent), str(TEMPLATES)]),
                      autoescape=select_autoescape(["html"]), trim_blocks=False)
    add_template_vocabulary(env)
    return env


def render(doc: dict, *, for_pdf: bool, css_href: str | None = None,
           links: dict[str, str] | None = None) -> str:
    """The print view of ``doc``: for the page (``css_href`` to the style sheet, the
    ``links`` back and to the PDF), or for the converter (no links; the caller inlines
    the style sheet)."""
    return _environment().get_template("intake/print.html").render(
        d=doc, for_pdf=for_pdf, css_href=css_href, links=links or {},
        printed_at=jst(utcnow()))


def revision(doc: dict) -> str:
    """The revision of the print view: sha256 of the document, template and style sheet."""
    digest = hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True,
                                       default=str).encode())
    digest.update(TEMPLATE.read_bytes())
    digest.update(CSS.read_bytes())
    return digest.hexdigest()


# --- the PDF ---------------------------------------------------------------------------

def require_converter(settings: Settings) -> pdf.Converter:
    """The converter, else 503 in Japanese (nothing to convert with)."""
    converter = pdf.find_converter(settings)
    if converter is None:
        raise ApiError(503, "pdf_converter_missing", NO_CONVERTER_MESSAGE)
    return converter


def _emit(ctx: ServiceContext, session: Session, row: PrintPdf) -> None:
    ctx.emit(session, "intake", "print.pdf_requested",
             {"application_id": row.application_id, "revision": row.revision})


def request_pdf(ctx: ServiceContext, session: Session, app: Application) -> int:
    """The id of the PDF row of the application's current revision; the task is asked
    to make it when there is none yet, or when the last try failed a while ago."""
    rev = revision(document(session, ctx.plugins, app))
    stmt = select(PrintPdf).where(PrintPdf.application_id == app.id, PrintPdf.revision == rev)
    row = session.scalar(stmt)
    if row is None:
        row = PrintPdf(application_id=app.id, revision=rev, status=PENDING)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:          # a simultaneous request asked for it first
            return session.scalar(stmt).id
        _emit(ctx, session, row)
    elif row.status == FAILED and (row.finished_at or utcnow()) < utcnow() - RETRY_FAILED_AFTER:
        row.status, row.error, row.finished_at = PENDING, None, None
        _emit(ctx, session, row)
    elif row.status == PENDING and row.requested_at < utcnow() - dt.timedelta(
            seconds=ctx.settings.task_time_limit):
        row.requested_at = utcnow()     # its message was lost to an operator (dead letter)
        _emit(ctx, session, row)
    return row.id


def wait_for_pdf(ctx: ServiceContext, row_id: int, seconds: float) -> PrintPdf | None:
    """The PDF row once it is no longer pending, looking for at most ``seconds`` (None:
    still pending). Returned detached, with its content loaded."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        with ctx.transaction() as session:
            row = session.get(PrintPdf, row_id)
            if row is not None and row.status != PENDING:
                session.expunge(row)
                return row
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL)


def failure(row: PrintPdf) -> ApiError:
    """The Japanese 503 of a PDF that could not be made."""
    if row.error == NO_CONVERTER:
        return ApiError(503, "pdf_converter_missing", NO_CONVERTER_MESSAGE)
    wait = int(RETRY_FAILED_AFTER.total_seconds())
    return ApiError(503, "pdf_failed", FAILED_MESSAGE, headers={"Retry-After": str(wait)},
                    retry_after=wait)


def file_name(app_number: str) -> str:
    """``nws-application-2026-000001.pdf`` (ASCII only: safe in every header)."""
    return f"nws-application-{re.sub(r'[^0-9A-Za-z-]', '_', app_number or 'draft')}.pdf"


def pdf_for(ctx: ServiceContext, principal: Principal, app_id: int
            ) -> tuple[bytes, str] | None:
    """GET .pdf, for the API and the page: (PDF, file name) once the PDF of the
    application's current revision is made, else None after waiting NWS_PDF_WAIT seconds
    for the intake task (the caller answers 202). 404 for an application the caller
    may not read (applications.get_readable), 503 in Japanese without a converter or
    when the conversion failed."""
    from services.intake import applications as apps

    with ctx.transaction() as session:
        app = apps.get_readable(session, principal, app_id)
        require_converter(ctx.settings)
        row_id, number = request_pdf(ctx, session, app), app.number
    row = wait_for_pdf(ctx, row_id, ctx.settings.pdf_wait_seconds)
    if row is None:
        return None
    if row.status != DONE:
        raise failure(row)
    return row.content, file_name(number)


def send_pdf(content: bytes, name: str):
    """The answer carrying the PDF: application/pdf, as an attachment, not cached."""
    import io

    from flask import send_file

    return send_file(io.BytesIO(content), mimetype="application/pdf", as_attachment=True,
                     download_name=name, max_age=0)


def claim_pdf(ctx: ServiceContext, session: Session, payload: dict) -> dict | None:
    """The first step of the ``print.pdf_requested`` task, in its transaction: the
    print view of the revision asked for, to convert (None: nothing to do). A revision
    the application has moved past is dropped (its request asks for the new one)."""
    row = session.scalar(select(PrintPdf).where(
        PrintPdf.application_id == payload["application_id"],
        PrintPdf.revision == payload["revision"]))
    if row is None or row.status != PENDING:
        return None
    app = session.get(Application, payload["application_id"])
    doc = document(session, ctx.plugins, app) if app is not None else None
    if doc is None or revision(doc) != row.revision:
        session.delete(row)
        return None
    if pdf.find_converter(ctx.settings) is None:
        row.status, row.error, row.finished_at = FAILED, NO_CONVERTER, utcnow()
        return None
    return {"row_id": row.id, "application_id": app.id, "html": render(doc, for_pdf=True)}


def convert_pdf(ctx: ServiceContext, job: dict) -> None:
    """The second step, with no transaction open (a conversion takes seconds: in the
    embedded suite an open transaction would hold SQLite's write lock all that time):
    convert, then store the outcome in a short transaction of its own. A conversion
    that fails ends as ``failed`` with the reason, never as a dead task; older
    revisions' PDFs are removed once the new one is made."""
    converter = pdf.find_converter(ctx.settings)
    content, error = None, NO_CONVERTER
    if converter is not None:
        try:
            content = pdf.convert(converter, job["html"], CSS.read_text("utf-8"))
        except pdf.ConversionError as exc:
            log.warning("PDF of application %s failed: %s", job["application_id"], exc)
            error = str(exc)[:2000]
    with ctx.transaction() as session:
        row = session.get(PrintPdf, job["row_id"], with_for_update=True)
        if row is None or row.status != PENDING:
            return                      # the application changed meanwhile: dropped
        row.finished_at = utcnow()
        if content is None:
            row.status, row.error = FAILED, error
            return
        row.status, row.content, row.converter = DONE, content, converter.name
        session.execute(delete(PrintPdf).where(PrintPdf.application_id == row.application_id,
                                               PrintPdf.revision != row.revision))
