"""Workbook uploads and attachments of an application.

An upload is checked at the door (shared.upload_safety: size, zip directory, macros, DTDs,
sheet dimensions, a known form sheet), stored, and read by the ``upload.received`` task:
each form found in the workbook becomes that form's data (source "xlsx") with the
reader's findings (formulas, values not in a pull-down, reviewer cells filled …) and the
validators' findings, located by sheet and cell. Whatever goes wrong while reading
becomes a finding ``upload.unreadable`` on the upload; the task never fails on a file.

Several files can come at once (:func:`receive_files`, the page's multiple file field
and ``POST …/uploads/batch``): workbooks, and .zip files of workbooks such as the
forms.zip the site makes. Each workbook, posted or found in a zip, goes through
:func:`receive_upload` on its own; a file refused at the door is reported by its name
and the others are still taken. Each file's state and findings (by sheet and cell) are
listed by :func:`list_uploads`.

Attachments are PDFs (checked by their magic) that the forms name by their ``ref``
(添付資料ID, e.g. "A001").
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from typing import Any

import pluggy
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import upload_safety, workbook
from limits import parse

from shared.auth import Principal
from shared.config import Settings
from shared.db import utcnow
from shared.forms import ERROR, Finding
from shared.messaging import ServiceContext
from shared.pages import file_size, finding_message
from shared.ratelimit import UNITS, rate_limits
from shared.ratelimit import describe as describe_rate
from shared.pluginmanager import form_specs
from shared.web import ApiError, not_found
from services.intake import applications as apps
from services.intake import reviewed, validation, workbooks
from services.intake.models import (Application, Attachment, FormEntry, HistoryEntry,
                                    Organisation, Upload)

log = logging.getLogger(__name__)

PENDING = "received"
MIB = 1024 * 1024
MAX_BATCH_FILES = 20          # files in one posting (a zip counts as one)


def mib(size: int) -> str:
    """``104857600`` as 「100 MiB」 (one decimal when not whole)."""
    return f"{size // MIB:,} MiB" if size % MIB == 0 else f"{size / MIB:,.1f} MiB"


def throttle(settings: Settings, app_id: int) -> None:
    """Count one file posted to the application (workbook or attachment, accepted or
    refused); 429 (Japanese, Retry-After) beyond ``settings.upload_rate_limit``."""
    limits, key = rate_limits(), ("intake.upload", str(app_id))
    wait = limits.take(settings.upload_rate_limit, *key)
    if wait is not None:
        item = parse(settings.upload_rate_limit)
        raise ApiError(429, "rate_limited",
                       f"この申請へのファイルのアップロードは{describe_rate(item)}までです"
                       f"（直近 {item.multiples} {UNITS.get(item.GRANULARITY.name, '')}に "
                       f"{item.amount} 回アップロード済み）。{wait} 秒後に再度お試しください。",
                       headers={"Retry-After": str(wait)}, retry_after=wait)


def _rejected(exc: upload_safety.UploadRejected) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message)


# The name the site gives a form's workbook (workbooks.file_name): 申請番号_様CODE.xlsx
SITE_FILE_NAME = re.compile(r"^(?P<number>\d{4}-\d{6})_様\d{2}-\d{2}\.xlsx$")


def check_application_of(app: Application, filename: str) -> None:
    """A workbook the site made for another application (its file name carries that
    application's number) is refused: 422 naming both numbers."""
    match = SITE_FILE_NAME.match(filename.rsplit("/", 1)[-1])
    if match and app.number and match.group("number") != app.number:
        raise ApiError(422, "other_application",
                       f"申請番号 {match.group('number')} の様式です（この申請は {app.number}）。"
                       "この申請の画面からダウンロードした様式をアップロードしてください。")


def receive_upload(ctx: ServiceContext, pm: pluggy.PluginManager, session: Session,
                   principal: Principal, app: Application, filename: str,
                   content: bytes, archive: str | None = None) -> Upload:
    """Check ``content`` at the door and store it for the reading task (4xx otherwise,
    with nothing stored). ``archive``: the .zip it came in."""
    apps.require_editable(app)
    layouts = workbooks.layouts(pm)
    try:
        upload_safety.check_name(filename)
        upload_safety.check_size(len(content))
        info = upload_safety.check_workbook(content, [lay.sheet for lay in layouts.values()])
    except upload_safety.UploadRejected as exc:
        raise _rejected(exc) from None
    check_application_of(app, filename)
    upload = Upload(application_id=app.id, filename=filename[:255],
                    archive=archive[:255] if archive else None, size=len(content),
                    sha256=hashlib.sha256(content).hexdigest(), content=content,
                    status=PENDING, forms=workbook.identify(info.sheets, layouts), findings=[],
                    uploaded_by=principal.actor())
    session.add(upload)
    apps.history(session, app, "upload_received", actor=principal.actor(),
                 org_id=principal.org_id,
                 comment=(f"{archive[:100]} 内の " if archive else "") + filename[:200])
    session.flush()
    apps.record(session, app, "application.workbook_uploaded",
                {"upload": upload.id, "filename": upload.filename[:100], "size": upload.size,
                 "sha256": upload.sha256, "forms": upload.forms}, actor=principal)
    ctx.emit(session, "intake", "upload.received",
             {"application_id": app.id, "upload_id": upload.id})
    return upload


@dataclasses.dataclass
class Received:
    """What became of one file of a batch: its name (in its zip, when it came in one),
    the upload made of it, or the Japanese reason it was refused."""

    name: str
    archive: str | None = None
    upload: Upload | None = None
    error: ApiError | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"filename": self.name, "archive": self.archive,
                               "id": self.upload.id if self.upload is not None else None}
        if self.error is None and self.upload is not None:
            out.update(status=self.upload.status, forms=self.upload.forms)
        elif self.error is not None:
            out.update(status="rejected", forms=[],
                       error={"code": self.error.code, "message": self.error.message})
        return out


def receive_files(ctx: ServiceContext, pm: pluggy.PluginManager, session: Session,
                  principal: Principal, app: Application,
                  files: list[tuple[str, bytes]]) -> list[Received]:
    """Several files posted at once: workbooks, and .zip files whose workbooks are each
    taken as if posted by themselves (:func:`receive_upload`). A file refused at the
    door, or an entry of a zip, is reported by its name while the others are taken.
    When at least one is taken, the refused ones are kept in the list of uploads as
    読み込めません with their reason; when none is, nothing is stored and the whole
    batch is answered 4xx (every file's reason in ``files``)."""
    apps.require_editable(app)
    if not files:
        raise ApiError(400, "file_missing", "アップロードするファイルを選んでください。")
    if len(files) > MAX_BATCH_FILES:
        raise ApiError(422, "too_many_files",
                       f"一度にアップロードできるファイルは {MAX_BATCH_FILES} 個までです（{len(files)} 個）。")
    out: list[Received] = []
    for filename, content in files:
        name = (filename or "").strip() or "（ファイル名なし）"
        if not upload_safety.is_zip_name(name):
            out.append(_take(ctx, pm, session, principal, app, name, content, None))
            continue
        try:
            entries = upload_safety.read_zip(content, name)
        except upload_safety.UploadRejected as exc:
            out.append(Received(name, error=_rejected(exc)))
            continue
        if not entries:
            out.append(Received(name, error=ApiError(
                422, "zip_empty", f"「{name}」の中に Excel ファイル（.xlsx）がありません。")))
        for entry in entries:
            if entry.error is not None:
                out.append(Received(entry.name, name, error=_rejected(entry.error)))
            else:
                out.append(_take(ctx, pm, session, principal, app, entry.name,
                                 entry.content or b"", name))
    taken = [r for r in out if r.upload is not None]
    if not taken:
        first = out[0].error
        status = first.status if len(out) == 1 else 422
        raise ApiError(status, first.code if len(out) == 1 else "no_file_accepted",
                       first.message if len(out) == 1 else
                       "受け付けられるファイルがありませんでした。ファイルごとの理由を確認してください。",
                       headers=first.headers, files=[r.as_dict() for r in out])
    for r in out:
        if r.upload is None:
            r.upload = _refused_upload(session, principal, app, r)
    return out


def _take(ctx, pm, session: Session, principal: Principal, app: Application, name: str,
          content: bytes, archive: str | None) -> Received:
    try:
        with session.begin_nested():
            upload = receive_upload(ctx, pm, session, principal, app, name, content, archive)
    except ApiError as exc:
        if exc.status >= 500 or exc.status in (404, 409):
            raise
        return Received(name, archive, error=exc)
    return Received(name, archive, upload=upload)


def _refused_upload(session: Session, principal: Principal, app: Application,
                    r: Received) -> Upload:
    """A file refused in a batch that others of got through: listed as 読み込めません."""
    upload = Upload(application_id=app.id, filename=r.name[:255],
                    archive=r.archive[:255] if r.archive else None, size=0,
                    sha256="", content=None, status="failed", forms=[],
                    findings=[Finding("upload.rejected", ERROR, "file", r.error.message).as_dict()],
                    uploaded_by=principal.actor(), processed_at=utcnow())
    session.add(upload)
    session.flush()
    return upload


def _unreadable(exc: BaseException) -> Finding:
    return Finding("upload.unreadable", ERROR, "file",
                   "ファイルを読み取れませんでした。様式をダウンロードし直して記入し、"
                   ".xlsx 形式で保存してアップロードしてください。")


# The ``upload.received`` task runs in three steps (shared.messaging.Staged), as form
# validation does: read the upload and what its forms are validated against in a short
# transaction; read the workbook and run the plugins' validators with no transaction
# open (a slow plugin or a large file holds nothing: other organisations' requests go
# on, on SQLite too); then store the forms with their findings by sheet and cell. Runs
# once per upload; a file that cannot be read ends as ``failed`` with a finding, never
# as an exception.

def read_upload(ctx: ServiceContext, session: Session, payload: dict) -> dict | None:
    upload = session.get(Upload, payload["upload_id"])
    if upload is None or upload.status != PENDING or upload.content is None:
        return None
    app = session.get(Application, upload.application_id, options=apps.ON_USE)
    if app is None or app.status not in apps.EDITABLE:
        return {"upload_id": upload.id, "editable": False}
    upload.started_at = utcnow()          # the page says 検証中 from now on
    return {"upload_id": upload.id, "editable": True, "content": upload.content,
            "reviewer": reviewed.written_values(session, app),
            "context": apps.form_context(session, app),
            "revisions": {f.code: f.revision for f in app.forms}}


def read_and_validate(ctx: ServiceContext, snapshot: dict) -> dict:
    """The workbook's forms with their findings (reading and validation findings
    placed on their sheet and cell), or why the file gave none."""
    if not snapshot["editable"]:
        return {"failed": Finding("upload.not_editable", ERROR, "file",
                                  "アップロードの処理前に申請が提出（または取り下げ）されたため、この内容は反映していません。")}
    pm = ctx.plugins
    try:
        results = workbook.read_workbook(snapshot["content"], workbooks.layouts(pm),
                                         reviewer=snapshot["reviewer"])
    except Exception as exc:  # a hostile or broken file: a finding, not a dead task
        log.info("upload %s unreadable: %r", snapshot["upload_id"], exc)
        return {"failed": _unreadable(exc)}
    if not results:
        return {"failed": Finding("upload.no_form", ERROR, "file",
                                  "様式のシートが見つかりません。ダウンロードした様式に記入してアップロードしてください。")}
    # Cross-form rules see every form: the stored ones and this workbook's.
    fctx = dataclasses.replace(snapshot["context"], forms={
        **snapshot["context"].forms, **{r.code: r.data for r in results}})
    forms = []
    for result in results:
        try:
            found = result.findings + result.place(
                validation.validate_form(pm, result.code, result.data, fctx))
        except Exception:
            log.exception("validators failed on upload %s form %s", snapshot["upload_id"],
                          result.code)
            found = result.findings + [Finding(
                "form.validation_crashed", ERROR, result.code,
                f"様{result.code}の検証中に問題が発生しました。内容を確認して再度アップロードしてください。")]
        forms.append((result.code, result.data, found))
    return {"forms": forms}


def store_upload(ctx: ServiceContext, session: Session, payload: dict, envelope: dict,
                 snapshot: dict, outcome: dict) -> None:
    upload = session.get(Upload, snapshot["upload_id"])
    if upload is None or upload.status != PENDING:
        return
    # Locked, as submission locks it: the forms are not changed under a submission.
    app = apps.lock_application(session, upload.application_id)
    upload.content, upload.processed_at = None, utcnow()     # kept only until read
    if app is None or app.status not in apps.EDITABLE:
        outcome = {"failed": Finding("upload.not_editable", ERROR, "file",
                                     "アップロードの処理前に申請が提出（または取り下げ）されたため、この内容は反映していません。")}
    if "failed" in outcome:
        upload.status, upload.forms = "failed", []
        upload.findings = [outcome["failed"].as_dict()]
        return
    # Another form changed while this file was validated: its cross-form findings may be
    # stale, so the forms are stored and validated again (form.validation_requested).
    changed = {f.code: f.revision for f in app.forms} != snapshot["revisions"]
    waiting = apps.validation_waiting(app)
    stored = []
    for code, data, found in outcome["forms"]:
        stored.append(apps.store_form_data(session, app, code, data, source="xlsx"))
        if not changed:
            apps.set_form_findings(app, code, found)
    if changed:
        session.flush()
        apps.request_validation(ctx, session, app, stored, waiting=waiting)
    codes = [code for code, _data, _found in outcome["forms"]]
    # what this file was found to have, by sheet and cell (the forms keep theirs too)
    upload.status, upload.forms = "done", codes
    upload.findings = [f.as_dict() for _code, _data, found in outcome["forms"] for f in found]
    apps.history(session, app, "upload_read", comment="、".join(f"様{c}" for c in codes))


def usage(session: Session, app_id: int) -> tuple[int, int]:
    """(count, total bytes) of the application's attachments."""
    count, used = session.execute(select(
        func.count(Attachment.id), func.coalesce(func.sum(Attachment.size), 0)).where(
        Attachment.application_id == app_id)).one()
    return int(count or 0), int(used or 0)


def add_attachment(session: Session, principal: Principal, app: Application, filename: str,
                   content: bytes, title: str = "", *,
                   max_count: int = Settings.attachments_max_count,
                   max_bytes: int = Settings.attachments_max_bytes) -> Attachment:
    """Store a PDF attachment within the application's quota: ``max_count`` files (409)
    and ``max_bytes`` in all (413), NWS_ATTACHMENTS_MAX_COUNT / _BYTES."""
    apps.require_editable(app)
    try:
        upload_safety.check_pdf(filename, content)
    except upload_safety.UploadRejected as exc:
        raise _rejected(exc) from None
    count, used = usage(session, app.id)
    if count >= max_count:
        raise ApiError(409, "too_many_attachments",
                       f"添付資料は 1 申請あたり {max_count:,} 件までです（登録済み {count:,} 件）。",
                       limit=max_count, used=count)
    if used + len(content) > max_bytes:
        raise ApiError(413, "attachments_too_large",
                       f"添付資料の合計サイズは 1 申請あたり {mib(max_bytes)}（{max_bytes:,} バイト）"
                       f"までです（登録済み {count:,} 件で {used:,} バイト、このファイルは "
                       f"{len(content):,} バイト）。",
                       limit=max_bytes, used=used, size=len(content))
    # Numbered by every attachment the application ever had: a deleted one's 添付資料ID
    # is never given to another document (a cell still naming it stays an error).
    n = 1 + int(session.scalar(select(func.count(HistoryEntry.id)).where(
        HistoryEntry.application_id == app.id, HistoryEntry.event == "attachment_added")) or 0)
    att = Attachment(application_id=app.id, ref=f"A{n:03d}", filename=filename[:255],
                     title=(title or "")[:200], size=len(content),
                     sha256=hashlib.sha256(content).hexdigest(), content=content,
                     uploaded_by=principal.actor())
    session.add(att)
    apps.history(session, app, "attachment_added", actor=principal.actor(),
                 org_id=principal.org_id, comment=f"{att.ref} {filename[:200]}")
    session.flush()
    apps.record(session, app, "application.attachment_added",
                {"attachment": att.ref, "filename": att.filename[:100], "size": att.size,
                 "sha256": att.sha256}, actor=principal)
    return att


def references(pm: pluggy.PluginManager, app: Application) -> dict[str, list[dict]]:
    """Where the application's forms name each 添付資料ID: ref → [{"form", "path",
    "location" (様CODE and the workbook's sheet and cell), "label" (Japanese)}]."""
    out: dict[str, list[dict]] = {}
    specs = form_specs(pm)
    for entry in app.forms:
        spec = specs.get(entry.code)
        if spec is None or spec.layout is None:
            continue
        cells = None
        for path, label, value in workbook.attachment_cells(spec.layout, entry.data or {}):
            if not isinstance(value, str) or not value.strip():
                continue
            if cells is None:
                cells = spec.layout.locations(entry.data or {})
            out.setdefault(value.strip(), []).append({
                "form": entry.code, "path": path,
                "location": f"様{entry.code} {cells.get(path, path)}",
                "label": f"様{entry.code} {label}"})
    return out


def list_attachments(pm: pluggy.PluginManager, session: Session,
                     app: Application) -> list[dict[str, Any]]:
    """The application's attachments, oldest first, with who uploaded each and which
    form cells refer to it (GET …/attachments and every page's list of them)."""
    refs = references(pm, app)
    rows = session.execute(select(
        Attachment.ref, Attachment.filename, Attachment.title, Attachment.size,
        Attachment.sha256, Attachment.uploaded_by, Attachment.created_at).where(
        Attachment.application_id == app.id).order_by(Attachment.id)).all()
    names = {app.org_id: apps.org_of(session, app.org_id).name}
    for a in rows:
        org_id = (a.uploaded_by or {}).get("org_id")
        if org_id and org_id not in names:
            org = session.get(Organisation, org_id)
            names[org_id] = org.name if org is not None else org_id
    return [{"id": a.ref, "filename": a.filename, "title": a.title, "size": a.size,
             "sha256": a.sha256,
             "uploaded_by": {**(a.uploaded_by or {}),
                             "org_name": names.get((a.uploaded_by or {}).get("org_id"), "")},
             "uploaded_at": a.created_at.isoformat(), "referenced_by": refs.get(a.ref, [])}
            for a in rows]


def _attachment(session: Session, app: Application, ref: str) -> Attachment:
    att = session.scalar(select(Attachment).where(Attachment.application_id == app.id,
                                                  Attachment.ref == ref))
    if att is None:
        raise not_found(f"添付資料「{ref[:20]}」")
    return att


def attachment_file(session: Session, app: Application, ref: str) -> Attachment:
    """The attachment, its stored bytes checked against the sha256 taken when it was
    uploaded: a mismatch is logged and answered 500 in Japanese, never with the bytes."""
    att = _attachment(session, app, ref)
    if hashlib.sha256(att.content or b"").hexdigest() != att.sha256:
        log.error("attachment %s of application %s (%s) does not match its sha256: "
                  "stored content corrupted", att.ref, app.id, app.number)
        raise ApiError(500, "attachment_corrupted",
                       f"添付資料「{att.ref}」（{att.filename}）の保存内容が登録時のチェックサムと一致しないため、"
                       "ダウンロードできません。運用管理者に連絡してください（申請者は添付し直すこともできます）。")
    return att


def delete_attachment(ctx: ServiceContext, pm: pluggy.PluginManager, session: Session,
                      principal: Principal, app: Application, ref: str) -> None:
    """Remove an attachment while the application is editable (409 otherwise). The forms
    that name it are validated again, so each cell still naming it gets its error
    finding (the others keep theirs)."""
    apps.require_editable(app)
    att = _attachment(session, app, ref)
    naming = {r["form"] for r in references(pm, app).get(att.ref, [])}
    detail = {"attachment": att.ref, "filename": att.filename[:100], "size": att.size,
              "sha256": att.sha256}
    session.delete(att)
    apps.history(session, app, "attachment_deleted", actor=principal.actor(),
                 org_id=principal.org_id, comment=f"{att.ref} {att.filename[:200]}")
    session.flush()
    apps.record(session, app, "application.attachment_deleted", detail, actor=principal)
    apps.request_validation(ctx, session, app,
                            [entry for entry in app.forms if entry.code in naming],
                            waiting=apps.validation_waiting(app))


def attachment_refs(session: Session, app_id: int) -> list[str]:
    return list(session.scalars(select(Attachment.ref).where(
        Attachment.application_id == app_id).order_by(Attachment.id)))


def describe(session: Session, app_id: int) -> dict[str, Any]:
    """The uploads and attachments of an application, for GET application."""
    uploads = session.execute(select(
        Upload.id, Upload.filename, Upload.archive, Upload.size, Upload.status, Upload.forms,
        Upload.findings, Upload.created_at).where(
        Upload.application_id == app_id).order_by(Upload.id)).all()
    atts = session.execute(select(
        Attachment.ref, Attachment.filename, Attachment.title, Attachment.size,
        Attachment.sha256, Attachment.created_at).where(
        Attachment.application_id == app_id).order_by(Attachment.id)).all()
    return {
        "uploads": [{"id": u.id, "filename": u.filename, "archive": u.archive,
                     "size": u.size, "status": u.status,
                     "forms": u.forms, "findings": u.findings,
                     "at": u.created_at.isoformat()} for u in uploads],
        "attachments": [{"id": a.ref, "filename": a.filename, "title": a.title,
                         "size": a.size, "sha256": a.sha256, "at": a.created_at.isoformat()}
                        for a in atts],
    }


def _finding_text(f: dict) -> str:
    """A finding of a file as people read it: where (様式, sheet and cell) and what.
    Findings placed on a cell already start with it (「様02-02」シート D21: …); a field
    path in brackets is left out (shared.pages.finding_message)."""
    message = finding_message(f)
    if message.startswith("「"):
        return message
    code = str(f.get("location", "")).split(".", 1)[0]
    return f"様{code}: {message}" if re.fullmatch(r"\d{2}-\d{2}", code) else message


def file_state(status: str, started: bool, findings: list[dict]) -> dict[str, Any]:
    """One file's state: ``state`` (received | validating | valid | invalid | failed),
    its Japanese label (受付済み, 検証中, 誤りなし, 誤りあり n件, 読み込めません（理由）) and
    the counts of errors and warnings."""
    errors = sum(1 for f in findings if f.get("severity") == ERROR)
    warnings = len(findings) - errors
    if status == PENDING:
        state, label = ("validating", "検証中") if started else ("received", "受付済み")
    elif status == "failed":
        reason = "、".join(str(f.get("message", "")) for f in findings) or "理由不明"
        state, label = "failed", f"読み込めません（{reason}）"
    elif errors:
        state, label = "invalid", f"誤りあり {errors:,}件"
    else:
        state, label = "valid", "誤りなし" + (f"（注意 {warnings:,}件）" if warnings else "")
    return {"state": state, "label": label, "errors": errors, "warnings": warnings}


def megabytes(size: int) -> str:
    """A limit as people read it: 「0.03 MB」, 「1.25 MB」, 「20 MB」 (under 0.01 MB:
    「0.01 MB 未満」); a file's own size is ``shared.pages.file_size``."""
    mb = size / MIB
    if 0 < mb < 0.01:
        return "0.01 MB 未満"
    text = f"{mb:,.2f}" if mb < 10 else f"{mb:,.1f}"
    return text.rstrip("0").rstrip(".") + " MB"


def list_uploads(session: Session, app_id: int) -> list[dict[str, Any]]:
    """Every workbook uploaded to the application, newest first, each with its state,
    size in MB and its findings located by sheet and cell (GET …/uploads and the
    applicant's page)."""
    rows = session.execute(select(
        Upload.id, Upload.filename, Upload.archive, Upload.size, Upload.status, Upload.forms,
        Upload.findings, Upload.created_at, Upload.started_at, Upload.processed_at).where(
        Upload.application_id == app_id).order_by(Upload.id.desc())).all()
    # a form stored from the newest file holding it, validated again (another form
    # changed meanwhile): that file is still 検証中
    revalidating = set(session.scalars(select(FormEntry.code).where(
        FormEntry.application_id == app_id, FormEntry.status == "validating")))
    seen: set[str] = set()
    out = []
    for u in rows:
        findings = [f for f in u.findings or [] if isinstance(f, dict)]
        newest = set(u.forms or []) - seen if u.status == "done" else set()
        seen |= newest
        state = file_state(u.status, u.started_at is not None, findings)
        if newest & revalidating:
            state = file_state(PENDING, True, [])
        out.append({
            "id": u.id, "filename": u.filename, "archive": u.archive, "size": u.size,
            "size_text": file_size(u.size) if u.status != "failed" or u.size else "",
            "forms": list(u.forms or []),
            **state,
            "findings": [{**f, "text": _finding_text(f)} for f in findings],
            "uploaded_at": u.created_at.isoformat(),
            "processed_at": u.processed_at.isoformat() if u.processed_at else None})
    return out


def busy(items: list[dict]) -> bool:
    return any(i["state"] in ("received", "validating") for i in items)


def storage_used(session: Session) -> dict[str, dict[str, int]]:
    """Files the suite keeps for applications, for ``nws status``: uploads (the
    workbooks' bytes are kept only until read: ``held``) and attachments."""
    up = session.execute(select(func.count(Upload.id),
                                func.coalesce(func.sum(Upload.size), 0))).one()
    held = session.execute(select(func.count(Upload.id),
                                  func.coalesce(func.sum(Upload.size), 0)).where(
        Upload.content.is_not(None))).one()
    att = session.execute(select(func.count(Attachment.id),
                                 func.coalesce(func.sum(Attachment.size), 0))).one()
    return {"uploads": {"count": int(up[0]), "bytes": int(up[1]),
                        "held_count": int(held[0]), "held_bytes": int(held[1])},
            "attachments": {"count": int(att[0]), "bytes": int(att[1])}}


def pending(session: Session, app_id: int) -> bool:
    return session.scalar(select(Upload.id).where(
        Upload.application_id == app_id, Upload.status == PENDING).limit(1)) is not None
