"""Hostile files at POST .../uploads: a clear 4xx in Japanese and nothing stored, decided
at the door (shared.upload_safety) before any XML is parsed; what only reading finds
(formulas, another organisation's form, rows beyond the limit) becomes findings, and a
file the reader chokes on ends as the finding ``upload.unreadable``, never a dead task."""
from __future__ import annotations

import io
import re
import zipfile

import openpyxl
import pytest

from shared import upload_safety, workbook as wbk
from shared.pluginmanager import form_specs
from services.intake import uploads
from services.intake.models import Upload
from tests import factories
from tests.conftest import Suite
from tests.intake.test_uploads import post_upload, upload_and_wait, xlsx

BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<sheetData><row r="4"><c r="C4" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData>
</worksheet>"""


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    # Many files go to one application here; the per-minute upload limit is tested in
    # test_uploads.py.
    suite = Suite(tmp_path_factory.mktemp("hostile") / "var",
                  env={"NWS_UPLOAD_RATE_LIMIT": "100000/minute"})
    yield suite
    suite.close()


@pytest.fixture(scope="module")
def layouts(s):
    return {code: spec.layout for code, spec in form_specs(s.runtime.plugins).items()}


@pytest.fixture(scope="module")
def good(layouts) -> bytes:
    return xlsx(layouts, {"02-01": factories.form_02_01()})


_shared_app: dict = {}


@pytest.fixture
def app_id(s, layouts):
    """An application that already holds a valid 02-01 from an upload: one for the
    module, made again when a test that needed a fresh application of its own ended it
    (an organisation has one open application at a time)."""
    held = _shared_app.get(id(s))
    if held is None or s.get_app(held)["status"] != "draft":
        held = factories.create_application(s.client, s.headers("demo-applicant"))
        upload_and_wait(s, held, xlsx(layouts, {"02-01": factories.form_02_01()}))
        _shared_app[id(s)] = held
    return held


def rezip(content: bytes, *, replace: dict | None = None, add: dict | None = None,
          drop: tuple = (), compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            data = (replace or {}).get(info.filename, src.read(info.filename))
            dst.writestr(info.filename, data)
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return out.getvalue()


def sheet_member(content: bytes, sheet: str) -> str:
    """The zip member holding ``sheet``."""
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        book = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet name="{sheet}" sheetId="\d+" r:id="(rId\d+)"', book).group(1)
    target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
    return "xl/" + (target.group(1) or target.group(2)).lstrip("/").removeprefix("xl/")


def refused(s, app_id, content: bytes, name: str = "様式.xlsx") -> tuple[int, dict]:
    """Post a file that must be refused; assert nothing about the application changed."""
    before = s.get_app(app_id)
    res = post_upload(s, app_id, content, name)
    after = s.get_app(app_id)
    assert after == before, "a refused upload changed the application"
    body = res.get_json()
    assert re.search(r"[ぁ-んァ-ン一-龥]", body["error"]["message"]), body
    return res.status_code, body["error"]


def test_not_a_zip(s, app_id):
    status, err = refused(s, app_id, b"just some text, not a workbook")
    assert (status, err["code"]) == (422, "not_zip")
    assert "Excel ファイル（.xlsx）ではありません" in err["message"]


def test_a_zip_that_is_not_a_workbook(s, app_id):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert refused(s, app_id, buf.getvalue())[1]["code"] == "not_xlsx"


def test_a_truncated_zip(s, app_id, good):
    assert refused(s, app_id, good[: len(good) // 2])[1]["code"] == "not_zip"


def test_a_zip_bomb_is_refused_from_its_directory(s, app_id, good):
    bomb = rezip(good, add={"xl/media/bomb.xml": b" " * (16 * 1024 * 1024)})
    assert len(bomb) < 200_000  # small on the wire, 16 MiB unpacked
    status, err = refused(s, app_id, bomb)
    assert (status, err["code"]) == (422, "zip_ratio")
    assert "圧縮爆弾" in err["message"]


def test_a_member_too_large_even_when_stored(s, app_id, good, monkeypatch):
    monkeypatch.setattr(upload_safety, "MAX_MEMBER_BYTES", 100_000)
    big = rezip(good, add={"xl/media/big.bin": bytes(range(256)) * 500},
                compression=zipfile.ZIP_STORED)
    assert refused(s, app_id, big)[1]["code"] == "zip_member_too_large"


def test_too_much_unpacked_data_in_all(s, app_id, good, monkeypatch):
    monkeypatch.setattr(upload_safety, "MAX_TOTAL_BYTES", 200_000)
    many = rezip(good, add={f"xl/media/part{i}.bin": bytes(range(256)) * 200
                            for i in range(5)}, compression=zipfile.ZIP_STORED)
    assert refused(s, app_id, many)[1]["code"] == "zip_too_large"


def test_too_many_members(s, app_id, good):
    crowded = rezip(good, add={f"xl/media/m{i}.txt": b"x" for i in range(400)})
    assert refused(s, app_id, crowded)[1]["code"] == "zip_too_many_entries"


def test_billion_laughs_is_refused_at_the_door(s, app_id, good):
    member = sheet_member(good, "様02-01")
    status, err = refused(s, app_id, rezip(good, replace={member: BILLION_LAUGHS}))
    assert (status, err["code"]) == (422, "xml_dtd")
    assert "DTD" in err["message"]


def test_behind_the_door_openpyxl_refuses_entities_too(layouts, good):
    """openpyxl parses with defusedxml (a dependency): the door's check is not the only
    one."""
    from defusedxml import DefusedXmlException

    assert openpyxl.DEFUSEDXML is True
    bad = rezip(good, replace={sheet_member(good, "様02-01"): BILLION_LAUGHS})
    with pytest.raises(Exception) as raised:
        wbk.read_workbook(bad, layouts)
    chain, exc = [], raised.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(e, DefusedXmlException) for e in chain), chain


def test_a_file_the_reader_chokes_on_ends_as_a_finding_not_a_dead_task(s, app_id, good):
    """The task on a file that passed no door (stored directly): upload.unreadable."""
    bad = rezip(good, replace={sheet_member(good, "様02-01"): BILLION_LAUGHS})
    ctx = s.ctx("intake")
    with ctx.transaction() as session:
        up = Upload(application_id=app_id, filename="x.xlsx", size=len(bad), sha256="0" * 64,
                    content=bad, status="received", forms=[], findings=[],
                    uploaded_by={"org_id": "131016", "login": "t", "name": "t"})
        session.add(up)
        session.flush()
        upload_id = up.id
    payload = {"application_id": app_id, "upload_id": upload_id}
    with ctx.transaction() as session:          # the task's three steps (Staged)
        snapshot = uploads.read_upload(ctx, session, payload)
    outcome = uploads.read_and_validate(ctx, snapshot)
    with ctx.transaction() as session:
        uploads.store_upload(ctx, session, payload, {}, snapshot, outcome)
    with ctx.transaction() as session:
        up = session.get(Upload, upload_id)
        assert (up.status, up.content) == ("failed", None)
        assert [f["rule"] for f in up.findings] == ["upload.unreadable"]
        assert "読み取れませんでした" in up.findings[0]["message"]
    assert s.get_app(app_id)["forms"]["02-01"]["status"] == "valid"  # untouched


@pytest.mark.parametrize("name", ["様式.xlsm", "様式.xls", "様式.xlsb", "様式.txt"])
def test_macro_enabled_and_other_formats_by_name(s, app_id, good, name):
    status, err = refused(s, app_id, good, name)
    assert status == 415
    assert ".xlsx" in err["message"]


def test_a_vba_project_inside_an_xlsx(s, app_id, good):
    sneaky = rezip(good, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 100})
    status, err = refused(s, app_id, sneaky)
    assert (status, err["code"]) == (422, "macros")
    assert "マクロ" in err["message"]


def test_a_macro_enabled_content_type(s, app_id, good):
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        types = zf.read("[Content_Types].xml").replace(
            b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    assert refused(s, app_id, rezip(good, replace={"[Content_Types].xml": types}))[1][
        "code"] == "macros"


def test_a_workbook_without_any_form_sheet(s, app_id):
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    buf = io.BytesIO()
    wb.save(buf)
    status, err = refused(s, app_id, buf.getvalue())
    assert (status, err["code"]) == (422, "no_known_form")
    assert "「Sheet1」" in err["message"] and "様02-01" in err["message"]


def test_another_organisation_s_form_is_a_finding(s, layouts):
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    app = upload_and_wait(s, app_id, xlsx(layouts, {"02-01": factories.form_02_01("132012")}))
    form = app["forms"]["02-01"]
    assert form["status"] == "invalid"
    assert form["findings"][0]["rule"] == "02-01.org_mismatch"
    assert form["findings"][0]["message"].startswith("「様02-01」シート C4: ")


def test_an_enormous_declared_sheet(s, app_id, good):
    member = sheet_member(good, "様02-01")
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        xml = zf.read(member)
    huge = re.sub(rb'<dimension ref="[^"]+"/>', b'<dimension ref="A1:XFD1048576"/>', xml)
    assert huge != xml
    status, err = refused(s, app_id, rezip(good, replace={member: huge}))
    assert (status, err["code"]) == (422, "sheet_too_large")
    assert "「様02-01」シートが大きすぎます" in err["message"]


def test_cells_far_to_the_right_and_too_many_rows_are_read_bounded(s, layouts, good):
    """No dimension to go by: the reader reads only the layout's columns and at most
    MAX_ROWS rows, and says so."""
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    member = sheet_member(good, "様02-01")
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        xml = zf.read(member)
    rows = b"".join(b'<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>' % (r, r)
                    for r in range(100, 100 + wbk.MAX_ROWS))
    xml = re.sub(rb'<dimension ref="[^"]+"/>', b"", xml).replace(b"</sheetData>", rows + b"</sheetData>")
    app = upload_and_wait(s, app_id, rezip(good, replace={member: xml}))
    assert app["uploads"][0]["status"] == "done"
    assert "workbook.too_many_rows" in {f["rule"] for f in app["forms"]["02-01"]["findings"]}


def test_formulas_in_table_cells_become_findings(s, layouts):
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    wb = openpyxl.load_workbook(io.BytesIO(xlsx(layouts, {"02-02": factories.form_02_02()})))
    wb["様02-02"]["E22"] = '="03-"&"1234-5678"'
    buf = io.BytesIO()
    wb.save(buf)
    app = upload_and_wait(s, app_id, buf.getvalue())
    found = {f["rule"]: f["message"] for f in app["forms"]["02-02"]["findings"]}
    assert found["workbook.formula"].startswith("「様02-02」シート E22: 数式は使えません")


def test_a_file_over_the_size_limit_is_413(s, app_id, good):
    padded = good + b"\0" * (upload_safety.MAX_UPLOAD_BYTES + 1 - len(good))
    status, err = refused(s, app_id, padded)
    assert status == 413
    assert "大きすぎます" in err["message"]


def test_no_file_field(s, app_id):
    before = s.get_app(app_id)
    res = s.client.post(f"/api/intake/applications/{app_id}/uploads",
                        headers=s.headers("demo-applicant"),
                        data={"other": "x"}, content_type="multipart/form-data")
    assert res.status_code == 400 and "「file」" in res.get_json()["error"]["message"]
    res = s.client.post(f"/api/intake/applications/{app_id}/uploads",
                        headers=s.headers("demo-applicant"), json={"file": "x"})
    assert res.status_code == 415
    assert s.get_app(app_id) == before
