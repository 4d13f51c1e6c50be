"""Several workbooks at once and the site's forms.zip, over HTTP (POST …/uploads/batch,
GET …/uploads): every workbook is taken as by the single upload and read by the intake
task; a wrong file, or a wrong entry of a zip, is reported by its name while the others
are taken; when none is taken nothing is stored."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from shared import upload_safety, workbook as wbk
from shared.pluginmanager import form_specs
from tests import factories
from tests.conftest import Suite, wait_for


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("zip-uploads") / "var")
    yield suite
    suite.close()


@pytest.fixture(scope="module")
def layouts(s):
    return {code: spec.layout for code, spec in form_specs(s.runtime.plugins).items()}


def new_app(s) -> tuple[int, str]:
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    return app_id, s.get_app(app_id)["number"]


def site_zip(s, app_id: int) -> bytes:
    res = s.client.get(f"/api/intake/applications/{app_id}/forms.zip",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 200
    return res.data


def make_zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def post_batch(s, app_id: int, files: list[tuple[str, bytes]]):
    return s.client.post(f"/api/intake/applications/{app_id}/uploads/batch",
                         headers=s.headers("demo-applicant"),
                         data={"file": [(io.BytesIO(c), n) for n, c in files]},
                         content_type="multipart/form-data")


def uploads_of(s, app_id: int) -> list[dict]:
    res = s.client.get(f"/api/intake/applications/{app_id}/uploads",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 200
    return res.get_json()["items"]


def settled(s, app_id: int) -> list[dict]:
    return wait_for(lambda: (lambda items: items if items and not any(
        i["state"] in ("received", "validating") for i in items) else None)(
        uploads_of(s, app_id)), what=f"uploads of {app_id} read")


def test_the_site_s_forms_zip_round_trips_through_the_zip_reader(s, layouts):
    app_id, number = new_app(s)
    entries = upload_safety.read_zip(site_zip(s, app_id), "様式一式.zip")
    codes = [code for code, lay in layouts.items()]
    assert [e.name for e in entries] == [f"{number}_様{c}.xlsx" for c in codes]
    assert all(e.error is None for e in entries)
    sheets = [lay.sheet for lay in layouts.values()]
    for code, entry in zip(codes, entries):
        info = upload_safety.check_workbook(entry.content, sheets)
        assert wbk.identify(info.sheets, layouts) == [code]
        [result] = wbk.read_workbook(entry.content, layouts)
        assert (result.code, result.data["org"]) == (code, "131016")


def test_a_filled_zip_and_a_workbook_at_once_each_file_reported_by_name(s, layouts):
    app_id, number = new_app(s)
    forms = factories.all_forms()
    filled = [(f"{number}_様{code}.xlsx", wbk.write_workbook([wbk.FormPart(layouts[code], data)]))
              for code, data in forms.items() if code != "02-02"]
    bad_02_02 = factories.form_02_02(normal_contacts=[{
        "priority": 1, "department": "情報政策課", "name": "", "phone": "03-1234",
        "email": "joho@example.lg.jp"}])
    no_form = openpyxl_book()
    archive = make_zip(filled + [
        ("メモ.txt", b"not a workbook"),
        ("壊れた.xlsx", b"PK\x03\x04 broken"),
        ("様式ではない.xlsx", no_form),
        ("2026-999999_様02-01.xlsx", filled[0][1]),
        ("../外.xlsx", filled[0][1]),
        ("入れ子.zip", make_zip(filled[:1])),
    ])
    res = post_batch(s, app_id, [
        ("記入済み.zip", archive),
        ("連絡窓口.xlsx", wbk.write_workbook([wbk.FormPart(layouts["02-02"], bad_02_02)]))])
    assert res.status_code == 202, res.get_json()
    body = res.get_json()
    got = {(f["archive"], f["filename"]): (f["status"], (f.get("error") or {}).get("code"))
           for f in body["files"]}
    taken = {(("記入済み.zip", n)): ("received", None) for n, _ in filled}
    assert got == {**taken,
                   ("記入済み.zip", "メモ.txt"): ("rejected", "not_xlsx"),
                   ("記入済み.zip", "壊れた.xlsx"): ("rejected", "not_zip"),
                   ("記入済み.zip", "様式ではない.xlsx"): ("rejected", "no_known_form"),
                   ("記入済み.zip", "2026-999999_様02-01.xlsx"): ("rejected", "other_application"),
                   ("記入済み.zip", "../外.xlsx"): ("rejected", "zip_unsafe_name"),
                   ("記入済み.zip", "入れ子.zip"): ("rejected", "zip_nested"),
                   (None, "連絡窓口.xlsx"): ("received", None)}
    assert (body["accepted"], body["rejected"]) == (len(filled) + 1, 6)
    other = next(f for f in body["files"] if f["filename"] == "2026-999999_様02-01.xlsx")
    assert f"申請番号 2026-999999 の様式です（この申請は {number}）" in other["error"]["message"]

    items = settled(s, app_id)
    state = {(i["archive"], i["filename"]): i for i in items}
    assert {k: state[k]["state"] for k in taken} == {k: "valid" for k in taken}
    assert state[(None, "連絡窓口.xlsx")]["label"] == "誤りあり 1件"
    [finding] = state[(None, "連絡窓口.xlsx")]["findings"]
    assert finding["text"].startswith("「様02-02」シート E22: ") and "03-1234" in finding["text"]
    refused = state[("記入済み.zip", "壊れた.xlsx")]
    assert refused["state"] == "failed" and refused["label"].startswith("読み込めません（")
    assert re.fullmatch(r"[\d.,]+ (KB|MB|バイト)", state[("記入済み.zip", filled[0][0])]["size_text"])
    app = s.get_app(app_id)
    assert set(app["forms"]) == set(forms)
    assert app["forms"]["02-02"]["status"] == "invalid"


def openpyxl_book() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "集計"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_batch_with_nothing_to_take_is_refused_and_stores_nothing(s):
    app_id, _number = new_app(s)
    before = s.get_app(app_id)
    res = post_batch(s, app_id, [("メモ.txt", b"text"),
                                 ("空.zip", make_zip([("readme.txt", b"x")]))])
    assert res.status_code == 422
    body = res.get_json()
    assert body["error"]["code"] == "no_file_accepted"
    assert [(f["filename"], f["error"]["code"]) for f in body["files"]] == [
        ("メモ.txt", "not_xlsx"), ("readme.txt", "not_xlsx")]
    after = s.get_app(app_id)
    assert after["uploads"] == [] and after["history"] == before["history"]


def test_a_zip_bomb_is_refused_as_a_whole(s, monkeypatch):
    monkeypatch.setattr(upload_safety, "MAX_ZIP_TOTAL_BYTES", 1024 * 1024)
    app_id, _number = new_app(s)
    res = post_batch(s, app_id, [("爆弾.zip", make_zip([("a.xlsx", b"\0" * 2_000_000)]))])
    assert res.status_code == 422
    assert res.get_json()["error"]["code"] == "zip_too_large"
    assert s.get_app(app_id)["uploads"] == []


def test_the_batch_needs_a_file(s):
    app_id, _number = new_app(s)
    res = s.client.post(f"/api/intake/applications/{app_id}/uploads/batch",
                        headers=s.headers("demo-applicant"), data={},
                        content_type="multipart/form-data")
    assert res.status_code == 400 and res.get_json()["error"]["code"] == "file_missing"


@pytest.mark.parametrize("size,text", [(0, "0 MB"), (5_000, "0.01 MB 未満"),
                                       (30 * 1024, "0.03 MB"), (5 * 1024 * 1024, "5 MB"),
                                       (int(1.25 * 1024 * 1024), "1.25 MB"),
                                       (20 * 1024 * 1024, "20 MB")])
def test_file_sizes_are_shown_in_megabytes(size, text):
    from services.intake.uploads import megabytes

    assert megabytes(size) == text


@pytest.mark.parametrize("status,started,findings,label", [
    ("received", False, [], "受付済み"),
    ("received", True, [], "検証中"),
    ("done", True, [], "誤りなし"),
    ("done", True, [{"severity": "warning"}], "誤りなし（注意 1件）"),
    ("done", True, [{"severity": "error"}, {"severity": "error"}, {"severity": "warning"}],
     "誤りあり 2件"),
    ("failed", True, [{"severity": "error", "message": "壊れています。"}],
     "読み込めません（壊れています。）"),
])
def test_each_file_state_has_its_japanese_label(status, started, findings, label):
    from services.intake.uploads import file_state

    assert file_state(status, started, findings)["label"] == label


def test_a_read_file_whose_form_is_validated_again_is_still_validating(s, layouts):
    from services.intake.models import FormEntry
    from services.intake.uploads import list_uploads
    from sqlalchemy import select

    app_id, _number = new_app(s)
    res = post_batch(s, app_id, [("責任体制.xlsx", wbk.write_workbook([wbk.FormPart(
        layouts["02-01"], factories.form_02_01())]))])
    assert res.status_code == 202
    assert [i["state"] for i in settled(s, app_id)] == ["valid"]
    with s.ctx("intake").transaction() as session:
        entry = session.scalars(select(FormEntry).where(
            FormEntry.application_id == app_id, FormEntry.code == "02-01")).one()
        entry.status = "validating"            # as when another form changed meanwhile
        session.flush()
        assert [(i["state"], i["label"]) for i in list_uploads(session, app_id)] == [
            ("validating", "検証中")]
        session.rollback()


def test_a_posting_larger_than_the_batch_limit_is_refused_before_reading(s, monkeypatch):
    from services.intake import api_uploads

    monkeypatch.setattr(api_uploads, "MAX_BATCH_BYTES", 1000)
    app_id, _number = new_app(s)
    res = post_batch(s, app_id, [("a.xlsx", b"x" * 40_000), ("b.xlsx", b"x" * 40_000)])
    assert res.status_code == 413
    assert "一度に送るファイルが大きすぎます" in res.get_json()["error"]["message"]
    assert s.get_app(app_id)["uploads"] == []
