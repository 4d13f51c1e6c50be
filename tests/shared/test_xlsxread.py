"""The two reading engines (shared.xlsxread): calamine only where the scan says it is
safe, and then it reads exactly what openpyxl reads."""
from __future__ import annotations

import datetime as dt
import io
import subprocess
import zipfile

import openpyxl
import pytest

from shared import workbook as wbk
from shared import xlsxread
from tests import form_data
from tests.shared.test_workbook import layouts, soffice, specs, write  # noqa: F401

FORMS = {**form_data.required_forms(), "03-09": form_data.form_03_09(),
         "03-08": form_data.form_03_08_full()}


def same(content: bytes, layouts) -> list[wbk.ReadResult]:  # noqa: F811
    """Read with both engines; assert identical results; return them."""
    fast = wbk.read_workbook(content, layouts, engine="calamine")
    slow = wbk.read_workbook(content, layouts, engine="openpyxl")
    assert [(r.code, r.data, r.locations, r.findings) for r in fast] == \
        [(r.code, r.data, r.locations, r.findings) for r in slow]
    return fast


def member(content: bytes) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        name = next(n for n in zf.namelist() if n.startswith("xl/worksheets/sheet1"))
        return name, zf.read(name)


def replaced(content: bytes, name: str, xml: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, xml if info.filename == name else src.read(info.filename))
    return out.getvalue()


@pytest.mark.parametrize("code", sorted(FORMS))
def test_a_generated_form_is_read_by_calamine_and_alike_by_both(layouts, code):  # noqa: F811
    body = write(layouts, code, FORMS[code])
    assert xlsxread.calamine_safe(body)
    assert xlsxread.open_book(body).engine == "calamine"
    [result] = same(body, layouts)
    assert result.data == wbk.read_workbook(body, layouts)[0].data


def test_what_people_type_reads_alike(layouts):  # noqa: F811
    """Dates typed as dates, numbers for codes, full-width text, a mark in a check box."""
    wb = openpyxl.load_workbook(io.BytesIO(write(layouts, "02-01", FORMS["02-01"])))
    refs = {f.path: f.ref for f in layouts["02-01"].fields if f.path}
    ws = wb["様02-01"]
    ws[refs["application_date"]] = dt.datetime(2026, 11, 26)
    ws[refs["org"]] = 131016            # a code typed as a number
    ws[refs["writer.name"]] = "　申請　太郎　"
    buf = io.BytesIO()
    wb.save(buf)
    body = buf.getvalue()
    assert xlsxread.calamine_safe(body)
    [result] = same(body, layouts)
    assert result.data["application_date"] == "2026/11/26"
    assert result.data["org"] == "131016"
    assert result.data["writer"]["name"] == "申請　太郎"   # a name is only trimmed


def test_a_formula_sends_the_workbook_to_openpyxl_which_reports_it(layouts):  # noqa: F811
    wb = openpyxl.load_workbook(io.BytesIO(write(layouts, "02-02", FORMS["02-02"])))
    wb["様02-02"]["E22"] = '="03-"&"1234-5678"'
    buf = io.BytesIO()
    wb.save(buf)
    assert not xlsxread.calamine_safe(buf.getvalue())
    assert xlsxread.open_book(buf.getvalue()).engine == "openpyxl"
    [result] = wbk.read_workbook(buf.getvalue(), layouts)
    assert "workbook.formula" in {f.rule for f in result.findings}


@pytest.mark.parametrize("change", [
    pytest.param(lambda x: x.replace(b"</sheetData>",
                                     b'<row r="9"><c r="XFD1048576"><v>1</v></c></row></sheetData>'),
                 id="a cell at XFD1048576"),
    pytest.param(lambda x: x.replace(b"</sheetData>", b'<row r="6000"><c r="A6000"><v>1</v></c>'
                                     b"</row></sheetData>"), id="a row beyond the form's bounds"),
    pytest.param(lambda x: x.replace(b"</sheetData>", b"<row><c><v>1</v></c></row></sheetData>"),
                 id="a row and a cell without a reference"),
    pytest.param(lambda x: x.replace(b"</sheetData>", b'<row r="3000">'
                                     + b"<c><v>1</v></c>" * 400 + b"</row></sheetData>"),
                 id="many cells numbered by position"),
    pytest.param(lambda x: x.replace(b"<sheetData>", b"<sheetData><!-- <row r='1'/> -->")
                 .replace(b"</worksheet>", b""), id="not well-formed"),
])
def test_what_could_make_calamine_allocate_a_huge_grid_goes_to_openpyxl(layouts, change):  # noqa: F811
    body = write(layouts, "02-01", FORMS["02-01"])
    name, xml = member(body)
    hostile = replaced(body, name, change(xml))
    assert not xlsxread.calamine_safe(hostile)
    assert xlsxread.open_book(hostile).engine == "openpyxl"


def test_a_dtd_is_never_handed_to_calamine(layouts):  # noqa: F811
    body = write(layouts, "02-01", FORMS["02-01"])
    name, xml = member(body)
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + xml.split(b"?>", 1)[1]
    assert not xlsxread.calamine_safe(replaced(body, name, dtd))


def test_a_zip_beyond_the_upload_limits_is_never_handed_to_calamine(layouts, monkeypatch):  # noqa: F811
    from shared import upload_safety

    body = write(layouts, "02-01", FORMS["02-01"])
    assert xlsxread.calamine_safe(body)
    monkeypatch.setattr(upload_safety, "MAX_TOTAL_BYTES", 100)
    assert not xlsxread.calamine_safe(body)


def test_workbooks_resaved_by_libreoffice_are_read_by_calamine_alike(layouts, tmp_path):  # noqa: F811
    exe = soffice()
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    originals = {}
    for code, data in FORMS.items():
        originals[code] = write(layouts, code, data)
        (src / f"form-{code}.xlsx").write_bytes(originals[code])
    subprocess.run([exe, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), *sorted(map(str, src.iterdir()))],
                   check=True, capture_output=True, timeout=240)
    converted = sorted(out.iterdir())
    assert len(converted) == len(FORMS)
    for path in converted:
        body = path.read_bytes()
        assert xlsxread.calamine_safe(body), path.name
        [result] = same(body, layouts)
        [original] = wbk.read_workbook(originals[result.code], layouts, engine="openpyxl")
        assert result.data == original.data, path.name
