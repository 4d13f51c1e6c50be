"""Workbook uploads and attachments over HTTP (DESIGN §7):

- ``POST /api/intake/applications/ID/uploads`` multipart field ``file`` (.xlsx) → 202
  ``{"id", "status", "forms"}``; the workbook is read and validated by an intake task and
  its forms' status and findings appear in GET application.
- ``POST /api/intake/applications/ID/uploads/batch`` multipart field ``file`` repeated
  (each an .xlsx, or a .zip of them such as the site's forms.zip) → 202 ``{"files":
  [{"filename", "archive", "id", "status", "forms", "error"?}], "accepted", "rejected"}``:
  every workbook (posted, or found in a zip) is taken as by the single upload; a file or
  zip entry refused at the door is reported by its name (status ``rejected`` with the
  Japanese reason) while the others are taken. When none is taken: 4xx, nothing stored,
  ``files`` in the error body.
- ``GET /api/intake/applications/ID/uploads`` → ``{"items": [...]}``: each uploaded file,
  newest first, with its state (received, validating, valid, invalid, failed), the
  Japanese label the page shows, its size and its findings by sheet and cell.
- ``POST /api/intake/applications/ID/attachments`` multipart field ``file`` (PDF), optional
  field ``title`` → 201 ``{"id", ...}``; ``id`` is the 添付資料ID the forms refer to.
- ``GET /api/intake/applications/ID/attachments`` → ``{"items": [...]}`` with where the
  forms refer to each; ``GET …/attachments/AID`` → the PDF (its sha256 checked on every
  download); ``DELETE …/attachments/AID`` → 204 while the application is editable.
  Read by the owner organisation and, under review, by the case's forwarder and
  reviewers and operators (``applications.get_readable``); anyone else gets 404.

Files refused at the door (size, not a zip, zip bomb, macros, DTDs, sheets too large, no
form sheet; not a PDF) are answered 4xx with a Japanese message and nothing is stored.

Quotas (settings): files posted to one application per minute, workbooks and attachments
together (``NWS_UPLOAD_RATE_LIMIT``, 429 with Retry-After); attachments per application,
by count (``NWS_ATTACHMENTS_MAX_COUNT``, 409) and by total bytes
(``NWS_ATTACHMENTS_MAX_BYTES``, 413).
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from shared.auth import current_principal, require
from shared.openapi import File, operation
from shared.service import context, plugins
from shared.upload_safety import (MAX_ATTACHMENT_BYTES, MAX_BATCH_BYTES, MAX_UPLOAD_BYTES,
                                  MAX_ZIP_BYTES, is_zip_name)
from shared.web import ApiError, content_disposition
from services.intake import applications as apps
from services.intake import uploads
from services.intake.schemas import (AttachmentAddedSchema, AttachmentListSchema,
                                     UploadAcceptedSchema, UploadBatchSchema,
                                     UploadListSchema, multipart_file, multipart_files)

bp = Blueprint("intake_uploads_api", __name__, url_prefix="/api/intake")


def _file(limit: int) -> tuple[str, bytes]:
    """(file name, bytes) of the multipart field ``file``, read no further than the limit."""
    if (request.content_length or 0) > limit + 64 * 1024:
        raise ApiError(413, "too_large",
                       f"ファイルが大きすぎます（上限 {limit:,} バイト）。")
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type",
                       "multipart/form-data の「file」欄でファイルを送ってください。")
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "file_missing", "「file」欄にファイルを指定してください。")
    content = upload.stream.read(limit + 1)
    if len(content) > limit:
        raise ApiError(413, "too_large", f"ファイルが大きすぎます（上限 {limit:,} バイト）。")
    return upload.filename or "", content


@bp.post("/applications/<int:app_id>/uploads")
@require("applicant")
@operation("様式のブック（.xlsx）をアップロードする（読み取りと検証は非同期）",
           multipart=multipart_file("様式のブック（.xlsx）"), responses={202: UploadAcceptedSchema},
           errors=(409, 413, 415, 422, 429))
def upload_workbook(app_id: int):
    filename, content = _file(MAX_UPLOAD_BYTES)
    ctx = context("intake")
    principal = current_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        uploads.throttle(ctx.settings, app.id)
        up = uploads.receive_upload(ctx, plugins(), session, principal, app, filename, content)
        result = {"id": up.id, "status": up.status, "forms": up.forms}
    return jsonify(result), 202


def posted_files(req) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each file of the field ``file`` (page and API alike), each
    read no further than its limit plus one byte (a .zip: MAX_ZIP_BYTES, a workbook:
    MAX_UPLOAD_BYTES; the domain function refuses anything longer, by the file's name);
    a posting over MAX_BATCH_BYTES in all is 413 before any file is read."""
    if (req.content_length or 0) > MAX_BATCH_BYTES + 64 * 1024:
        raise ApiError(413, "too_large",
                       f"一度に送るファイルが大きすぎます（合計 {uploads.megabytes(req.content_length)}、"
                       f"上限 {uploads.megabytes(MAX_BATCH_BYTES)}）。分けてアップロードしてください。")
    out = []
    for f in req.files.getlist("file"):
        if f is None or not (f.filename or "").strip():
            continue
        limit = MAX_ZIP_BYTES if is_zip_name(f.filename) else MAX_UPLOAD_BYTES
        out.append((f.filename, f.stream.read(limit + 1)))
    return out


@bp.post("/applications/<int:app_id>/uploads/batch")
@require("applicant")
@operation("様式のブック（.xlsx）や様式一式の zip を一度に複数アップロードする（ファイルごとに受付・拒否）",
           multipart=multipart_files("様式のブック（.xlsx）または .xlsx を入れた zip（forms.zip など）"),
           responses={202: UploadBatchSchema}, errors=(409, 413, 415, 422, 429))
def upload_batch(app_id: int):
    if not request.mimetype.startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type",
                       "multipart/form-data の「file」欄でファイルを送ってください。")
    files = posted_files(request)
    ctx = context("intake")
    principal = current_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        uploads.throttle(ctx.settings, app.id)
        # none taken: 4xx with each file's reason, and the transaction rolled back
        got = uploads.receive_files(ctx, plugins(), session, principal, app, files)
        items = [r.as_dict() for r in got]
    rejected = sum(1 for i in items if i["status"] == "rejected")
    return jsonify({"files": items, "accepted": len(items) - rejected,
                    "rejected": rejected}), 202


@bp.get("/applications/<int:app_id>/uploads")
@require("applicant")
@operation("アップロードしたファイルの一覧（ファイルごとの状態と、シート・セル付きの指摘）",
           responses={200: UploadListSchema})
def list_uploads(app_id: int):
    with context("intake").transaction() as session:
        app = apps.get_owned(session, current_principal(), app_id)
        items = uploads.list_uploads(session, app.id)
    return jsonify({"items": items})


@bp.post("/applications/<int:app_id>/attachments")
@require("applicant")
@operation("添付資料（PDF）を追加する", multipart=multipart_file("添付資料（PDF）", title=True),
           responses={201: AttachmentAddedSchema}, errors=(409, 413, 415, 422, 429))
def add_attachment(app_id: int):
    filename, content = _file(MAX_ATTACHMENT_BYTES)
    ctx = context("intake")
    principal = current_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        uploads.throttle(ctx.settings, app.id)
        att = uploads.add_attachment(session, principal, app, filename, content,
                                     request.form.get("title", ""),
                                     max_count=ctx.settings.attachments_max_count,
                                     max_bytes=ctx.settings.attachments_max_bytes)
        result = {"id": att.ref, "filename": att.filename, "size": att.size,
                  "sha256": att.sha256}
    return jsonify(result), 201


def attachment_response(att) -> Response:
    """An attachment as a download: always a PDF to save (never shown inline, never
    sniffed), under a file name safe for every browser."""
    res = Response(att.content, mimetype="application/pdf")
    res.headers["Content-Disposition"] = content_disposition(att.filename, att.ref)
    res.headers["X-Content-Type-Options"] = "nosniff"
    res.headers["Cache-Control"] = "private, no-store"
    return res


@bp.get("/applications/<int:app_id>/attachments")
@require()
@operation("申請の添付資料の一覧（様式から参照している欄つき）",
           responses={200: AttachmentListSchema})
def list_attachments(app_id: int):
    with context("intake").transaction() as session:
        app = apps.get_readable(session, current_principal(), app_id)
        items = uploads.list_attachments(plugins(), session, app)
    return jsonify({"items": items})


@bp.get("/applications/<int:app_id>/attachments/<aid>")
@require()
@operation("添付資料（PDF）をダウンロードする（保存内容はチェックサムで確認）",
           responses={200: File("application/pdf", "添付資料の PDF")}, errors=(500,))
def download_attachment(app_id: int, aid: str):
    with context("intake").transaction() as session:
        app = apps.get_readable(session, current_principal(), app_id)
        return attachment_response(uploads.attachment_file(session, app, aid))


@bp.delete("/applications/<int:app_id>/attachments/<aid>")
@require("applicant")
@operation("添付資料を削除する（下書き・差戻しの間のみ）", responses={204: None}, errors=(409,))
def delete_attachment(app_id: int, aid: str):
    ctx = context("intake")
    principal = current_principal()
    with ctx.transaction() as session:
        app = apps.get_owned(session, principal, app_id, for_update=True)
        uploads.delete_attachment(ctx, plugins(), session, principal, app, aid)
    return "", 204
