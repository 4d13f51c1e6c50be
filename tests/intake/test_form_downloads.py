"""様式作成 over HTTP: GET .../forms/CODE.xlsx and .../forms.zip, pre-filled from the
registry, the selection and the saved forms; annotated when a form has findings; only
for the applicant organisation that owns the application."""
from __future__ import annotations

import io
import zipfile
from urllib.parse import quote

import openpyxl
import pytest

from shared import workbook as wbk
from shared.pluginmanager import form_specs
from tests import factories
from tests.conftest import Suite, wait_for

CODES = ["02-01", "02-02", "02-06", "03-06", "03-07", "03-08", "03-09"]


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("downloads") / "var")
    yield suite
    suite.close()


@pytest.fixture(scope="module")
def layouts(s):
    return {code: spec.layout for code, spec in form_specs(s.runtime.plugins).items()}


def new_app(s) -> int:
    return factories.create_application(s.client, s.headers("demo-applicant"))


def download(s, app_id, code, login="demo-applicant"):
    return s.client.get(f"/api/intake/applications/{app_id}/forms/{code}.xlsx",
                        headers=s.headers(login))


def read(res, layouts) -> wbk.ReadResult:
    assert res.status_code == 200, res.get_json()
    [result] = wbk.read_workbook(res.data, layouts)
    return result


def wait_form(s, app_id, code, status):
    wait_for(lambda: s.get_app(app_id)["forms"].get(code, {}).get("status") == status,
             what=f"{code} {status}")


def effective(s, app_id) -> dict:
    res = s.client.get(f"/api/intake/applications/{app_id}/selection",
                       headers=s.headers("demo-applicant"))
    return res.get_json()["effective"]


def test_a_form_comes_pre_filled_with_the_organisation(s, layouts):
    app_id = new_app(s)
    res = download(s, app_id, "02-01")
    assert res.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert quote("様02-01.xlsx") in res.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(res.data))["様02-01"]
    assert [ws[f"C{r}"].value for r in range(4, 9)] == [
        "131016", "地方公共団体", "東京都", "東京都千代田区", "情報照会者等"]
    result = read(res, layouts)
    assert result.findings == []
    assert (result.data["org"], result.data["request_type"]) == ("131016", "登録申請")


def test_03_07_rows_are_the_selection_s_rows(s, layouts):
    app_id = new_app(s)
    rows = effective(s, app_id)
    data = read(download(s, app_id, "03-07"), layouts).data
    assert [r["item_no"] for r in data["query_affairs"]] == [
        r["item_no"] for r in rows["query_affairs"]]
    assert [r["info_no"] for r in data["provided_info"]] == [
        r["info_no"] for r in rows["provided_info"]]
    assert data["query_affairs"][0]["affair"] == rows["query_affairs"][0]["affair"]
    assert data["query_affairs"][0]["pia"] == {"status": "", "reason": "", "reports": []}


def test_delegations_chosen_in_the_selection_fill_03_08(s, layouts):
    app_id = new_app(s)
    h = s.headers("demo-applicant")
    res = s.client.put(f"/api/intake/applications/{app_id}/selection", headers=h, json={
        "query_affairs": [{"item_no": "十", "choice": "受任事務", "delegators": ["130001"]}],
        "provided_info": [{"info_no": "EX0001", "choice": "委任した", "counterpart": "132012"}]})
    assert res.status_code == 200, res.get_json()
    data = read(download(s, app_id, "03-08"), layouts).data
    assert [(r["item_no"], r["delegators"], r["delegator_confirmed"])
            for r in data["query_delegations"]] == [("十", ["130001"], False)]
    assert [(r["info_no"], r["delegatee"]) for r in data["provision_delegations"]] == [
        ("EX0001", "132012")]
    assert data["provision_acceptances"] == []
    provided = read(download(s, app_id, "03-07"), layouts).data["provided_info"]
    assert "EX0001" not in [r["info_no"] for r in provided]  # delegated: not provided itself


def test_saved_form_data_comes_back_in_its_workbook(s, layouts):
    app_id = new_app(s)
    form = factories.form_02_01(system_chief={"title": "情報政策担当部長", "name": "山田 一郎"})
    factories.put_forms(s.client, s.headers("demo-applicant"), app_id, {"02-01": form})
    wait_form(s, app_id, "02-01", "valid")
    assert read(download(s, app_id, "02-01"), layouts).data == form


def test_saved_pia_answers_stay_on_their_rows(s, layouts):
    app_id = new_app(s)
    first = effective(s, app_id)["query_affairs"][0]
    pia = {"status": "実施済", "reason": "", "reports": [
        {"number": "12", "name": "児童福祉に関する事務 全項目評価書", "published": True}]}
    form = factories.form_02_01()  # header of any form
    form_03_07 = {k: form[k] for k in ("org", "application_date", "request_type", "writer")}
    form_03_07.update(query_affairs=[{"item_no": first["item_no"], "affair": first["affair"],
                                      "request_type": "登録", "pia": pia}], provided_info=[])
    factories.put_forms(s.client, s.headers("demo-applicant"), app_id, {"03-07": form_03_07})
    wait_form(s, app_id, "03-07", "valid")
    data = read(download(s, app_id, "03-07"), layouts).data
    assert data["application_date"] == "2026/11/26"
    assert data["query_affairs"][0]["pia"] == pia
    assert data["query_affairs"][1]["pia"]["status"] == ""
    assert len(data["query_affairs"]) == len(effective(s, app_id)["query_affairs"])


def test_a_form_with_findings_comes_back_annotated(s, layouts):
    app_id = new_app(s)
    bad = factories.form_02_02(normal_contacts=[{"priority": 1, "department": "情報政策課",
                                                 "name": "", "phone": "03-1234",
                                                 "email": "joho@example.lg.jp"}])
    factories.put_forms(s.client, s.headers("demo-applicant"), app_id, {"02-02": bad})
    wait_form(s, app_id, "02-02", "invalid")
    res = download(s, app_id, "02-02")
    ws = openpyxl.load_workbook(io.BytesIO(res.data))["様02-02"]
    assert "電話番号「03-1234」は桁数が正しくありません" in ws["E22"].comment.text
    assert "02-02.normal_contacts.phone" in ws["E22"].comment.text
    assert ws["E22"].fill.fgColor.rgb.endswith("FF9900")
    assert "指摘事項 1 件" in ws["G1"].value
    assert read(res, layouts).data == bad  # the form as it was validated


def test_the_zip_holds_every_form_each_readable(s, layouts):
    app_id = new_app(s)
    res = s.client.get(f"/api/intake/applications/{app_id}/forms.zip",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 200 and res.mimetype == "application/zip"
    number = s.get_app(app_id)["number"]
    with zipfile.ZipFile(io.BytesIO(res.data)) as zf:
        assert zf.namelist() == [f"{number}_様{code}.xlsx" for code in CODES]
        for code in CODES:
            [result] = wbk.read_workbook(zf.read(f"{number}_様{code}.xlsx"), layouts)
            assert (result.code, result.data["org"]) == (code, "131016")
            assert [f.rule for f in result.findings] == []


@pytest.mark.parametrize("path", ["forms/02-01.xlsx", "forms.zip"])
def test_another_organisation_gets_404(s, path):
    app_id = new_app(s)
    for login in ("demo-boe",):
        res = s.client.get(f"/api/intake/applications/{app_id}/{path}", headers=s.headers(login))
        assert res.status_code == 404
        assert res.get_json()["error"]["code"] == "not_found"
    res = s.client.get(f"/api/intake/applications/{app_id}/{path}", headers=s.headers("demo-pref"))
    assert res.status_code in (403, 404) and res.mimetype == "application/json"


def test_an_unknown_application_or_form(s):
    res = s.client.get("/api/intake/applications/999999/forms/02-01.xlsx",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 404
    res = download(s, new_app(s), "99-99")
    assert res.status_code == 404
    body = res.get_json()["error"]
    assert body["code"] == "unknown_form" and "99-99" in body["message"]


def test_no_login_is_401(s):
    assert s.client.get("/api/intake/applications/1/forms.zip").status_code == 401
