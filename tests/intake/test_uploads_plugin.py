"""A form added by an out-of-tree plugin (entry point) brings its workbook layout: intake
generates its workbook and reads an upload of it, with no change to any service."""
from __future__ import annotations

import io
import sys
import textwrap

import openpyxl
import pytest

from tests.conftest import Suite
from tests.intake.test_uploads import upload_and_wait

PLUGIN_SOURCE = '''
"""An out-of-tree plugin: form 99-02 with its own workbook."""
from marshmallow import fields
from shared import workbook as wbk
from shared.forms import ERROR, Finding, FormSpec
from shared.hookspecs import hookimpl
from shared.schemas import BaseSchema


class Form9902Schema(BaseSchema):
    org = fields.String(required=True)
    note = fields.String(required=True)
    rows = fields.List(fields.Dict(), load_default=list)


LAYOUT = wbk.Layout(
    code="99-02", title="独自追加様式（Excel）", sheet="様99-02",
    fields=(wbk.Field("C4", "機関コード", "org", kind=wbk.AUTO),
            wbk.Field("C5", "備考", "note")),
    tables=(wbk.Table("様99-02一覧", "rows", "一覧",
                      (wbk.Column("name", "名称"), wbk.Column("kind", "区分", kind=wbk.CHOICE,
                                                             choices=("甲", "乙")))),),
    prefill=lambda org: {"note": "", "rows": []})


def no_shouting(data, ctx):
    if data["note"].isupper():
        yield Finding("99-02.shouting", ERROR, "note", "備考を大文字だけで書かないでください。")


@hookimpl
def nws_form_specs():
    return [FormSpec(code="99-02", title="独自追加様式（Excel）", schema=Form9902Schema,
                     required_for=lambda kind, org: False, validators=(no_shouting,),
                     layout=LAYOUT)]
'''


@pytest.fixture
def plugin_suite(tmp_path, monkeypatch):
    root = tmp_path / "site"
    (root / "nws_excel_form").mkdir(parents=True)
    (root / "nws_excel_form" / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    dist = root / "nws_excel_form-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nws-excel-form\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[nws]\nexcel_form = nws_excel_form\n")
    monkeypatch.syspath_prepend(str(root))
    suite = Suite(tmp_path / "var")
    yield suite
    suite.close()
    sys.modules.pop("nws_excel_form", None)


def test_an_out_of_tree_form_is_generated_and_read_from_an_upload(plugin_suite):
    s = plugin_suite
    h = s.headers("demo-applicant")
    app_id = s.client.post("/api/intake/applications", json={"kind": "connection"},
                           headers=h).get_json()["id"]
    res = s.client.get(f"/api/intake/applications/{app_id}/forms/99-02.xlsx", headers=h)
    assert res.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(res.data))
    assert wb["様99-02"]["C4"].value == "131016"
    wb["様99-02"]["C5"] = "LOUD"
    wb["様99-02一覧"]["B5"], wb["様99-02一覧"]["C5"] = "名称その一", "甲"
    buf = io.BytesIO()
    wb.save(buf)
    app = upload_and_wait(s, app_id, buf.getvalue(), "様99-02.xlsx")
    assert app["uploads"][-1]["forms"] == ["99-02"]
    form = app["forms"]["99-02"]
    assert form["status"] == "invalid"
    [finding] = form["findings"]
    assert finding["rule"] == "99-02.shouting"
    assert finding["message"].startswith("「様99-02」シート C5: ")
    # fixed in Excel and uploaded again
    wb["様99-02"]["C5"] = "静かな備考"
    buf = io.BytesIO()
    wb.save(buf)
    app = upload_and_wait(s, app_id, buf.getvalue(), "様99-02.xlsx")
    assert app["forms"]["99-02"] == {"status": "valid", "revision": 2, "findings": []}
    res = s.client.get(f"/api/intake/applications/{app_id}/forms/99-02.xlsx", headers=h)
    rows = openpyxl.load_workbook(io.BytesIO(res.data))["様99-02一覧"]
    assert (rows["B5"].value, rows["C5"].value) == ("名称その一", "甲")
