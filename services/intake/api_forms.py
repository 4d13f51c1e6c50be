"""様式作成 over HTTP: the forms of an application as pre-filled workbooks, one at a
time or all in a zip; a form with findings comes back annotated (offending cells
highlighted, a comment per finding)."""
from __future__ import annotations

import io

from flask import Blueprint, jsonify, send_file

from shared.auth import current_principal, require
from shared.openapi import XLSX, ZIP, File, operation
from shared.service import context, plugins
from services.intake import applications as apps
from services.intake import registered, workbooks
from services.intake.api import form_codes
from services.intake.schemas import FormDataSchema, RegisteredSchema

bp = Blueprint("intake_forms_api", __name__, url_prefix="/api/intake")


def download(body: bytes, name: str, mimetype: str):
    """A generated file (a workbook, a zip of them) as a download, never cached (the
    API's and the pages')."""
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=name, max_age=0)


@bp.get("/applications/<int:app_id>/forms/<code>.xlsx")
@require(*apps.WORKBOOK_READERS)
@operation("様式のブック（.xlsx）: 事前記入したもの、指摘があれば注記したもの",
           path={"code": form_codes}, responses={200: File(XLSX, "様式のブック")})
def form_workbook(app_id: int, code: str):
    with context("intake").transaction() as session:
        app = apps.get_readable(session, current_principal(), app_id)
        body, name = workbooks.form_workbook(session, plugins(), app, code)
    return download(body, name, workbooks.XLSX_MIMETYPE)


@bp.get("/applications/<int:app_id>/forms.zip")
@require(*apps.WORKBOOK_READERS)
@operation("申請のすべての様式のブック（zip）", responses={200: File(ZIP, "様式のブックの zip")})
def forms_zip(app_id: int):
    with context("intake").transaction() as session:
        app = apps.get_readable(session, current_principal(), app_id)
        body, name = workbooks.forms_zip(session, plugins(), app)
    return download(body, name, "application/zip")


@bp.get("/applications/<int:app_id>/forms/<code>")
@require("applicant")
@operation("様式のデータ（保存したもの、なければ事前記入したもの）", path={"code": form_codes},
           responses={200: FormDataSchema})
def form_data(app_id: int, code: str):
    """The JSON twin of 様式作成: the saved form, else the pre-filled one (registry,
    selection and, in a 変更申請, the registered rows marked 変更なし)."""
    with context("intake").transaction() as session:
        app = apps.get_owned(session, current_principal(), app_id)
        data = workbooks.initial_data(session, plugins(), app, code)
        entry = next((f for f in app.forms if f.code == code), None)
        result = {"code": code, "saved": entry is not None, "data": data,
                  "status": entry.status if entry is not None else None,
                  "findings": entry.findings if entry is not None else []}
    return jsonify(result)


@bp.get("/registered")
@require("applicant")
@operation("自機関の登録内容（変更申請の出発点）", responses={200: RegisteredSchema}, errors=(409,))
def registered_content():
    """What the caller's organisation has registered (the start of its 変更申請)."""
    principal = current_principal()
    with context("intake").transaction() as session:
        return jsonify(registered.describe(session, principal.org_id))
