"""Workbooks filled in and saved by LibreOffice, not only written by our own writer, are
uploaded through POST .../uploads and validate (skipped without soffice unless CI=true)."""
from __future__ import annotations

import datetime as dt
import io
import subprocess

import openpyxl

from tests import factories, form_data
from tests.intake.test_uploads import download, layouts, s, upload_and_wait, xlsx  # noqa: F401
from tests.shared.test_workbook import soffice


def edit(content: bytes, sheet: str, **cells) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    for ref, value in cells.items():
        wb[sheet][ref] = value
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_forms_resaved_by_libreoffice_upload_and_validate(s, layouts, tmp_path):  # noqa: F811
    exe = soffice()
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    forms = {**form_data.required_forms(), "03-09": form_data.form_03_09()}
    forms["03-06"]["attached_forms"] = sorted(set(forms["03-06"]["attached_forms"]) | {"03-09"})
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for code in ("02-06", "03-06", "03-07", "03-08", "03-09"):
        (src / f"form-{code}.xlsx").write_bytes(xlsx(layouts, {code: forms[code]}))
    # 02-01 filled by hand into the pre-filled download: a date typed as a date, a
    # full-width name with stray spaces.
    blank = download(s, app_id, "02-01")
    refs = {f.path: f.ref for f in layouts["02-01"].fields if f.path}
    typed = {refs["application_date"]: dt.datetime(2026, 11, 26),
             refs["request_type"]: "登録申請", refs["writer.name"]: "　申請　太郎　"}
    for path in ("writer.department", "writer.title", "system_chief.title",
                 "system_chief.name", "system_manager.title", "system_manager.name",
                 "staff.section", "staff.unit"):
        head, tail = path.split(".")
        typed[refs[path]] = forms["02-01"][head][tail]
    (src / "filled-02-01.xlsx").write_bytes(edit(blank, "様02-01", **typed))
    # 02-02 in one workbook together with nothing else changed
    (src / "form-02-02.xlsx").write_bytes(xlsx(layouts, {"02-02": forms["02-02"]}))
    subprocess.run([exe, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), *sorted(map(str, src.iterdir()))],
                   check=True, capture_output=True, timeout=240)
    converted = sorted(out.iterdir())
    assert len(converted) == 7
    for path in converted:
        app = upload_and_wait(s, app_id, path.read_bytes(), path.name)
        assert app["uploads"][-1]["status"] == "done", app["uploads"][-1]
    app = s.get_app(app_id)
    errors = {code: [f for f in form["findings"] if f["severity"] == "error"]
              for code, form in app["forms"].items()}
    assert errors == {code: [] for code in forms}
    assert {code: form["status"] for code, form in app["forms"].items()} == dict.fromkeys(
        forms, "valid")
    # what was typed by hand arrives as the JSON twin has it (a date; a name trimmed but
    # not normalised: its full-width space stays)
    from shared import workbook as wbk

    [read] = wbk.read_workbook(download(s, app_id, "02-01"), layouts)
    expected = dict(forms["02-01"], writer=dict(forms["02-01"]["writer"], name="申請　太郎"))
    assert read.data == expected
