"""A 変更申請 starts from what is registered and changes it row by row: rows it marks
登録 / 変更 / 削除 change, every other registered row stays exactly as it was; one open
application per organisation; cross-form rules see the registered forms."""
from __future__ import annotations

import io

import openpyxl
import pytest

from tests import factories
from tests.conftest import Suite, wait_for
from tests.form_data import pia_done
from tests.review.test_change_applications import through_review
from tests.test_lifecycle_embedded import prepare_submitted

APPLICANT = "demo-applicant"      # 東京都千代田区 (131016)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("change-rows") / "var")
    yield s
    s.close()


@pytest.fixture(scope="module")
def registered(suite):
    """千代田区's 接続申請, registered as master version 1."""
    app_id = prepare_submitted(suite)
    through_review(suite, app_id)
    return app_id


def master_rows(suite, version: int, table: str, org: str = "131016") -> dict:
    body = suite.client.get(f"/api/master/versions/{version}",
                            headers=suite.headers("demo-mic")).get_json()
    return {r["key"]: r["data"] for r in body["tables"].get(table, [])
            if r["data"].get("org_id") == org}


def create(suite, kind, login=APPLICANT):
    return suite.client.post("/api/intake/applications", json={"kind": kind},
                             headers=suite.headers(login))


def prefill(suite, app_id, code, login=APPLICANT) -> dict:
    res = suite.client.get(f"/api/intake/applications/{app_id}/forms/{code}",
                           headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return res.get_json()


def wait_form(suite, app_id, code):
    return wait_for(lambda: (lambda f: f if f and f["status"] != "validating" else None)(
        suite.get_app(app_id)["forms"].get(code)), what=f"{code} validated")


def test_one_open_application_per_organisation(suite, registered):
    res = create(suite, "connection")
    assert res.status_code == 409
    body = res.get_json()
    assert body["error"]["code"] == "already_registered"
    assert "変更申請" in body["error"]["message"]
    change = create(suite, "change")
    assert change.status_code == 201, change.get_json()
    number = change.get_json()["number"]
    second = create(suite, "change")
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "application_open"
    assert number in second.get_json()["error"]["message"]
    assert "下書き" in second.get_json()["error"]["message"]
    # withdrawn, it no longer blocks a new one
    h = suite.headers(APPLICANT)
    assert suite.client.post(f"/api/intake/applications/{change.get_json()['id']}/withdraw",
                             headers=h).status_code == 200
    again = create(suite, "change")
    assert again.status_code == 201
    assert suite.client.post(f"/api/intake/applications/{again.get_json()['id']}/withdraw",
                             headers=h).status_code == 200


def test_a_change_opens_with_the_registered_rows_and_adds_one_without_losing_any(
        suite, registered):
    h = suite.headers(APPLICANT)
    before = {t: master_rows(suite, 1, t) for t in
              ("query_affairs", "provided_info", "responsibility", "contacts",
               "provision_delegations", "provision_acceptances", "query_delegations")}
    assert before["query_affairs"] and before["provided_info"]
    change = create(suite, "change").get_json()["id"]

    # the JSON twin of 様式作成: registered rows marked 変更なし, selection rows not yet
    # registered marked 登録, the header a 変更申請
    start = prefill(suite, change, "03-07")
    assert start["saved"] is False
    data = start["data"]
    assert data["request_type"] == "変更申請"
    kept = [r for r in data["query_affairs"] if r["request_type"] == "変更なし"]
    assert {r["item_no"] for r in kept} == {k.split("|")[1] for k in before["query_affairs"]}
    assert all(r["pia"]["status"] for r in kept)          # registered answers carried over
    new = [r for r in data["query_affairs"] if r["request_type"] == "登録"]
    assert new, "the selection offers rows not yet registered"
    added = dict(new[0], pia=pia_done())
    data["query_affairs"] = kept + [added]
    data["provided_info"] = [r for r in data["provided_info"] if r["request_type"] == "変更なし"]
    data["application_date"] = "2026/11/30"

    # the workbook shows the same rows with their 申請区分
    res = suite.client.get(f"/api/intake/applications/{change}/forms/03-07.xlsx", headers=h)
    wb = openpyxl.load_workbook(io.BytesIO(res.data))
    cells = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    assert "変更なし" in cells and "登録" in cells

    factories.put_forms(suite.client, h, change, {"03-07": data})
    form = wait_form(suite, change, "03-07")
    assert form["status"] == "valid", [f for f in form["findings"] if f["severity"] == "error"]
    # the applicant's page says what the change changes
    from tests.pages.support import client_for, text_of

    page = text_of(client_for(suite, APPLICANT).get(f"/applicant/applications/{change}"))
    assert "変更内容" in page and f"登録</strong> (1) 情報照会を行う事務 {added['item_no']}" in page
    assert suite.client.post(f"/api/intake/applications/{change}/submit",
                             headers=h).status_code == 202
    app = through_review(suite, change)
    version = app["master_version"]

    after = {t: master_rows(suite, version, t) for t in before}
    key = f"131016|{added['item_no']}"
    assert set(after["query_affairs"]) == set(before["query_affairs"]) | {key}
    for k, row in before["query_affairs"].items():
        assert after["query_affairs"][k] == row          # untouched, byte for byte
    assert after["query_affairs"][key]["affair"] == added["affair"]
    assert "request_type" not in after["query_affairs"][key]
    for table in before:
        if table != "query_affairs":
            assert after[table] == before[table], table

    # what intake keeps as registered equals the master's rows
    reg = suite.client.get("/api/intake/registered", headers=h).get_json()
    assert reg["registered"] is True and reg["master_version"] == version
    assert {r["item_no"] for r in reg["forms"]["03-07"]["query_affairs"]} == {
        k.split("|")[1] for k in after["query_affairs"]}


def test_a_deselected_row_becomes_a_deletion_and_leaves_the_master(suite, registered):
    h = suite.headers(APPLICANT)
    factories.withdraw_open(suite.client, h)
    latest = max(v["number"] for v in suite.client.get(
        "/api/master/versions", headers=suite.headers("demo-mic")).get_json()["items"])
    before = master_rows(suite, latest, "query_affairs")
    change = create(suite, "change").get_json()["id"]
    sel = suite.client.get(f"/api/intake/applications/{change}/selection",
                           headers=h).get_json()
    gone = sorted(k.split("|")[1] for k in before)[0]
    rows = (sel["selection"] or {"query_affairs": [], "provided_info": []})
    rows["query_affairs"] = [r for r in rows["query_affairs"] if r["item_no"] != gone] + [
        {"item_no": gone, "choice": "情報照会を行わない"}]
    res = suite.client.put(f"/api/intake/applications/{change}/selection", json=rows, headers=h)
    assert res.status_code == 200, res.get_json()
    data = prefill(suite, change, "03-07")["data"]
    deleted = [r for r in data["query_affairs"] if r["request_type"] == "削除"]
    assert [r["item_no"] for r in deleted] == [gone]
    data["query_affairs"] = [r for r in data["query_affairs"]
                             if r["request_type"] in ("変更なし", "削除")]
    data["provided_info"] = [r for r in data["provided_info"] if r["request_type"] == "変更なし"]
    data["application_date"] = "2026/11/30"
    factories.put_forms(suite.client, h, change, {"03-07": data})
    form = wait_form(suite, change, "03-07")
    assert form["status"] == "valid", [f for f in form["findings"] if f["severity"] == "error"]
    assert suite.client.post(f"/api/intake/applications/{change}/submit",
                             headers=h).status_code == 202
    version = through_review(suite, change)["master_version"]
    after = master_rows(suite, version, "query_affairs")
    assert set(after) == set(before) - {f"131016|{gone}"}


def test_rows_are_checked_against_what_is_registered(suite, registered):
    h = suite.headers(APPLICANT)
    factories.withdraw_open(suite.client, h)
    change = create(suite, "change").get_json()["id"]
    data = prefill(suite, change, "03-07")["data"]
    kept = [r for r in data["query_affairs"] if r["request_type"] == "変更なし"]
    again = dict(kept[0], request_type="登録")
    changed_keep = dict(kept[0], pia={"status": "1000人未満", "reason": "", "reports": []})
    stranger = {"item_no": "百七十七", "affair": "存在しない事務", "request_type": "変更",
                "pia": pia_done()}
    for rows, rule in (([again], "03-07.row.already_registered"),
                       ([changed_keep], "03-07.row.keep_changed"),
                       ([stranger], "03-07.row.not_registered")):
        body = dict(data, query_affairs=rows, provided_info=[], application_date="2026/11/30")
        factories.put_forms(suite.client, h, change, {"03-07": body})
        form = wait_form(suite, change, "03-07")
        found = {(f["rule"], f["location"]) for f in form["findings"]}
        assert (rule, "query_affairs[0].request_type") in found, form["findings"]
    # nothing registered changed meanwhile
    reg = suite.client.get("/api/intake/registered", headers=h).get_json()
    assert kept[0]["item_no"] in {r["item_no"] for r in reg["forms"]["03-07"]["query_affairs"]}


def test_02_06_in_a_change_is_checked_against_the_registered_02_01(suite, registered):
    h = suite.headers(APPLICANT)
    factories.withdraw_open(suite.client, h)
    change = create(suite, "change").get_json()["id"]
    from tests.form_data import form_02_06

    report = form_02_06(request_type="変更申請",
                        reporter={"title": "情報政策担当部長", "name": "別人 花子"})
    factories.put_forms(suite.client, h, change, {"02-06": report})
    wait_form(suite, change, "02-06")
    res = suite.client.post(f"/api/intake/applications/{change}/submit", headers=h)
    assert res.status_code == 202
    app = wait_for(lambda: (lambda a: a if a["status"] == "draft" and a["findings"] else None)(
        suite.get_app(change)), what="whole-application check")
    assert "02-06.reporter_not_system_chief" in {f["rule"] for f in app["findings"]}
