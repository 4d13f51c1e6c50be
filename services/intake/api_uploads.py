"""Workbook uploads and attachments over HTTP (DESIGN §7):

- ``POST /api/intake/applications/ID/uploads`` multipart field ``file`` (.xlsx) → 202
  ``{"id", "status", "forms"}``; the workbook is read and validated by an intake task and
  its forms' status and findings appear in GET application.
- ``POST /api/intake/applications/ID/attachments`` multipart field ``file`` (PDF), optional
  field ``title`` → 201 ``{"id", ...}``; ``id`` is the 添付資料ID the forms refer to.

Files refused at the door (size, not a zip, zip bomb, macros, DTDs, sheets too large, no
form sheet; not a PDF) are answered 4xx with a Japanese message and nothing is stored.

Quotas (settings): files posted to one application per minute, workbooks and attachments
together (``NWS_UPLOAD_RATE_LIMIT``, 429 with Retry-After); attachments per application,
by count (``NWS_ATTACHMENTS_MAX_COUNT``, 409) and by total bytes
(``NWS_ATTACHMENTS_MAX_BYTES``, 413).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from shared.auth import current_principal, require
from shared.openapi import operation
from shared.service import context, plugins
from shared.upload_safety import MAX_ATTACHMENT_BYTES, MAX_UPLOAD_BYTES
from shared.web import ApiError
from services.intake import applications as apps
from services.intake import uploads
from services.intake.schemas import AttachmentAddedSchema, UploadAcceptedSchema, multipart_file

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
