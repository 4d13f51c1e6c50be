"""Uploads (POST .../uploads) and attachments (POST .../attachments): a filled workbook
becomes its forms' data, validated in an intake task with findings located by sheet and
cell; attachments are PDFs the forms and the cross-form rules refer to."""
from __future__ import annotations

import dataclasses
import io

import openpyxl
import pytest

from shared import workbook as wbk
from shared.pluginmanager import form_specs
from tests import factories, form_data
from tests.conftest import Suite, wait_for

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("uploads") / "var")
    yield suite
    suite.close()


@pytest.fixture(scope="module")
def layouts(s):
    return {code: spec.layout for code, spec in form_specs(s.runtime.plugins).items()}


def new_app(s) -> int:
    return factories.create_application(s.client, s.headers("demo-applicant"))


def xlsx(layouts, forms: dict[str, dict]) -> bytes:
    return wbk.write_workbook([wbk.FormPart(layouts[code], data) for code, data in forms.items()])


def post_upload(s, app_id, content: bytes, name: str = "様式.xlsx"):
    return s.client.post(f"/api/intake/applications/{app_id}/uploads",
                         headers=s.headers("demo-applicant"),
                         data={"file": (io.BytesIO(content), name)},
                         content_type="multipart/form-data")


def post_attachment(s, app_id, content: bytes, name: str = "条例.pdf", title: str = ""):
    return s.client.post(f"/api/intake/applications/{app_id}/attachments",
                         headers=s.headers("demo-applicant"),
                         data={"file": (io.BytesIO(content), name), "title": title},
                         content_type="multipart/form-data")


def wait_upload(s, app_id, upload_id) -> dict:
    def done():
        app = s.get_app(app_id)
        up = next(u for u in app["uploads"] if u["id"] == upload_id)
        return app if up["status"] != "received" else None
    return wait_for(done, what=f"upload {upload_id} read")


def upload_and_wait(s, app_id, content: bytes, name: str = "様式.xlsx") -> dict:
    res = post_upload(s, app_id, content, name)
    assert res.status_code == 202, res.get_json()
    return wait_upload(s, app_id, res.get_json()["id"])


def download(s, app_id, code) -> bytes:
    res = s.client.get(f"/api/intake/applications/{app_id}/forms/{code}.xlsx",
                       headers=s.headers("demo-applicant"))
    assert res.status_code == 200
    return res.data


def test_a_filled_workbook_becomes_the_form_s_data(s, layouts):
    app_id = new_app(s)
    form = factories.form_02_01()
    res = post_upload(s, app_id, xlsx(layouts, {"02-01": form}))
    assert res.status_code == 202
    assert res.get_json()["forms"] == ["02-01"] and res.get_json()["status"] == "received"
    app = wait_upload(s, app_id, res.get_json()["id"])
    assert app["uploads"][0]["status"] == "done"
    assert app["forms"]["02-01"] == {"status": "valid", "revision": 1, "findings": []}
    [read] = wbk.read_workbook(download(s, app_id, "02-01"), layouts)
    assert read.data == form
    assert [h["event"] for h in app["history"]][-2:] == ["upload_received", "upload_read"]


def test_one_workbook_holding_several_forms_fills_each(s, layouts):
    app_id = new_app(s)
    forms = {"02-01": factories.form_02_01(), "02-02": factories.form_02_02(),
             "02-06": form_data.form_02_06()}
    app = upload_and_wait(s, app_id, xlsx(layouts, forms))
    assert {c: f["status"] for c, f in app["forms"].items()} == dict.fromkeys(forms, "valid")
    assert app["uploads"][0]["forms"] == list(forms)


def test_findings_name_the_sheet_and_cell_and_the_download_highlights_them(s, layouts):
    app_id = new_app(s)
    bad = factories.form_02_02(normal_contacts=[{"priority": 1, "department": "情報政策課",
                                                 "name": "", "phone": "03-1234",
                                                 "email": "joho@example.lg.jp"}])
    app = upload_and_wait(s, app_id, xlsx(layouts, {"02-02": bad}))
    form = app["forms"]["02-02"]
    assert form["status"] == "invalid"
    [finding] = form["findings"]
    assert finding["message"].startswith("「様02-02」シート E22: ")
    assert "03-1234" in finding["message"]
    ws = openpyxl.load_workbook(io.BytesIO(download(s, app_id, "02-02")))["様02-02"]
    assert "03-1234" in ws["E22"].comment.text
    assert ws["E22"].fill.fgColor.rgb.endswith("FF9900")


def test_what_only_the_reader_sees_becomes_findings_with_cells(s, layouts):
    app_id = new_app(s)
    wb = openpyxl.load_workbook(io.BytesIO(xlsx(layouts, {"02-01": factories.form_02_01()})))
    ws = wb["様02-01"]
    ws["F4"] = "2026-000001"            # the reviewers' 申請番号
    ws["C11"] = "=UPPER(\"x\")"          # a formula where a value is expected
    buf = io.BytesIO()
    wb.save(buf)
    app = upload_and_wait(s, app_id, buf.getvalue())
    form = app["forms"]["02-01"]
    assert form["status"] == "invalid"
    rules = {f["rule"]: f["message"] for f in form["findings"]}
    assert rules["02-01.reviewer_filled"].startswith("「様02-01」シート F4: ")
    assert rules["workbook.formula"].startswith("「様02-01」シート C11: 数式は使えません")


def test_a_new_upload_replaces_the_form_and_fixes_its_findings(s, layouts):
    app_id = new_app(s)
    bad = factories.form_02_01(application_date="令和8年11月26日")
    app = upload_and_wait(s, app_id, xlsx(layouts, {"02-01": bad}))
    assert app["forms"]["02-01"]["status"] == "invalid"
    assert "和暦" in app["forms"]["02-01"]["findings"][0]["message"]
    app = upload_and_wait(s, app_id, xlsx(layouts, {"02-01": factories.form_02_01()}))
    assert app["forms"]["02-01"] == {"status": "valid", "revision": 2, "findings": []}


def test_an_upload_to_a_submitted_application_is_refused(s, layouts):
    from tests.test_lifecycle_embedded import prepare_submitted

    app_id = prepare_submitted(s)
    res = post_upload(s, app_id, xlsx(layouts, {"02-01": factories.form_02_01()}))
    assert res.status_code == 409
    assert "変更できません" in res.get_json()["error"]["message"]


def test_the_sample_forms_pass_with_the_demo_organisation_s_real_selection(s):
    """form_context carries the effective selection: the sample 03-07 and 03-08 rows are
    the demo organisation's."""
    app_id = new_app(s)
    h = s.headers("demo-applicant")
    factories.put_forms(s.client, h, app_id, form_data.required_forms())
    app = wait_for(lambda: (lambda a: a if all(
        f["status"] != "validating" for f in a["forms"].values()) else None)(s.get_app(app_id)))
    assert {c: f["status"] for c, f in app["forms"].items()} == dict.fromkeys(
        form_data.required_forms(), "valid")
    # the selection's other rows, not on the sample form, are warnings only
    assert {f["rule"] for f in app["forms"]["03-07"]["findings"]} == {
        "03-07.query_affairs.selected_missing", "03-07.provided_info.selected_missing"}
    assert all(f["findings"] == [] for c, f in app["forms"].items() if c != "03-07")


def test_a_row_outside_the_selection_is_a_finding(s):
    app_id = new_app(s)
    form = form_data.form_03_07(query_affairs=[{
        "item_no": "百七十七", "affair": "存在しない事務", "request_type": "登録",
        "pia": form_data.pia_done()}])
    factories.put_forms(s.client, s.headers("demo-applicant"), app_id, {"03-07": form})
    form = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
        s.get_app(app_id)["forms"]["03-07"]))
    assert "03-07.query_affairs.not_selected" in {f["rule"] for f in form["findings"]}


def test_a_pdf_attachment_gets_an_id_and_is_listed(s):
    app_id = new_app(s)
    res = post_attachment(s, app_id, PDF, "事務処理特例条例.pdf", "東京都の事務処理の特例に関する条例")
    assert res.status_code == 201, res.get_json()
    assert res.get_json()["id"] == "A001"
    assert post_attachment(s, app_id, PDF, "規約.pdf").get_json()["id"] == "A002"
    listed = s.get_app(app_id)["attachments"]
    assert [(a["id"], a["filename"]) for a in listed] == [
        ("A001", "事務処理特例条例.pdf"), ("A002", "規約.pdf")]
    assert listed[0]["title"] == "東京都の事務処理の特例に関する条例"


@pytest.mark.parametrize("content,name,status", [
    (b"PK\x03\x04 not a pdf", "条例.pdf", 415),
    (b"", "条例.pdf", 422),
    (b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024), "大きい.pdf", 413),
])
def test_an_attachment_that_is_not_an_acceptable_pdf_is_refused(s, content, name, status):
    app_id = new_app(s)
    res = post_attachment(s, app_id, content, name)
    assert res.status_code == status
    assert res.get_json()["error"]["message"]
    assert s.get_app(app_id)["attachments"] == []


def test_an_unpublished_pia_report_must_name_an_attachment_of_the_application(s):
    app_id = new_app(s)
    h = s.headers("demo-applicant")
    pia = form_data.pia_done(published=False, attachment_id="A001")
    form = form_data.form_03_07_selected()
    form["query_affairs"][0]["pia"] = pia
    factories.put_forms(s.client, h, app_id, {"03-07": form})
    found = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
        s.get_app(app_id)["forms"]["03-07"]))
    assert [f["rule"] for f in found["findings"] if f["severity"] == "error"] == [
        "03-07.pia.attachment_unknown"]
    assert post_attachment(s, app_id, PDF, "評価書.pdf").get_json()["id"] == "A001"
    factories.put_forms(s.client, h, app_id, {"03-07": form})
    found = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
        s.get_app(app_id)["forms"]["03-07"]))
    assert (found["status"], found["revision"]) == ("valid", 2)
    assert all(f["severity"] == "warning" for f in found["findings"])


def test_03_06_その他_must_agree_with_the_attachments_at_submission(s):
    app_id = new_app(s)
    h = s.headers("demo-applicant")
    forms = form_data.required_forms()
    factories.put_forms(s.client, h, app_id, forms)
    assert post_attachment(s, app_id, PDF, "規約.pdf").status_code == 201
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id)["forms"].values()))
    assert s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
    app = s.wait_status(app_id, "draft")
    assert [f["rule"] for f in app["findings"]] == ["03-06.attached_forms.attachments_without_other"]
    summary = dict(forms["03-06"], attached_forms=forms["03-06"]["attached_forms"] + ["other"])
    factories.put_forms(s.client, h, app_id, {"03-06": summary})
    wait_for(lambda: s.get_app(app_id)["forms"]["03-06"]["status"] == "valid")
    assert s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
    # Accepted: submitted, and perhaps already routed by the time we look.
    wait_for(lambda: s.get_app(app_id)["status"] in ("submitted", "primary_review"),
             what=f"application {app_id} accepted")


def test_catalog_names_survive_a_download_and_upload_byte_for_byte(s, layouts):
    """The pre-filled 様03-07 carries the catalog's 事務名 (full-width brackets and all);
    uploaded back, the stored form holds exactly the catalog's text."""
    from sqlalchemy import select

    from services.intake.models import FormEntry

    app_id = new_app(s)
    catalog = s.client.get("/api/intake/catalog?org=131016",
                           headers=s.headers("demo-applicant")).get_json()
    names = {r["item_no"]: r["affair"] for r in catalog["query_affairs"]["automatic"]}
    assert any("（" in name for name in names.values())
    upload_and_wait(s, app_id, download(s, app_id, "03-07"))
    with s.ctx("intake").transaction() as session:
        data = session.scalar(select(FormEntry.data).where(FormEntry.application_id == app_id,
                                                           FormEntry.code == "03-07"))
    stored = {r["item_no"]: r["affair"] for r in data["query_affairs"]}
    assert stored == names
    rules = {f["rule"] for f in s.get_app(app_id)["forms"]["03-07"]["findings"]}
    assert "03-07.query_affairs.affair_mismatch" not in rules


def test_catalog_names_sent_as_json_are_checked_as_given(s):
    """A 事務名 with the catalog's full-width brackets passes through JSON unchanged; the
    same name with half-width brackets is not the law's text."""
    import unicodedata

    catalog = s.client.get("/api/intake/catalog?org=131016",
                           headers=s.headers("demo-applicant")).get_json()
    row = next(r for r in catalog["query_affairs"]["automatic"] if "（" in r["affair"])
    h = s.headers("demo-applicant")

    def findings_for(affair):
        app_id = new_app(s)
        form = form_data.form_03_07(query_affairs=[{
            "item_no": row["item_no"], "affair": affair, "request_type": "登録",
            "pia": form_data.pia_done()}])
        factories.put_forms(s.client, h, app_id, {"03-07": form})
        form = wait_for(lambda: (lambda f: f if f["status"] != "validating" else None)(
            s.get_app(app_id)["forms"]["03-07"]))
        return [f for f in form["findings"] if f["rule"].endswith("_mismatch")]

    assert findings_for(row["affair"]) == []
    [finding] = findings_for(unicodedata.normalize("NFKC", row["affair"]))
    assert finding["rule"] == "03-07.query_affairs.affair_mismatch"
    assert f"「{row['affair']}」" in finding["message"]


# --- quotas ----------------------------------------------------------------------------

@pytest.fixture
def quotas(s, monkeypatch):
    """Small quotas on the running suite (settings as NWS_ATTACHMENTS_MAX_COUNT,
    NWS_ATTACHMENTS_MAX_BYTES and NWS_UPLOAD_RATE_LIMIT would give them)."""
    def set_quotas(**values):
        ctx = s.ctx("intake")
        monkeypatch.setattr(ctx, "settings", dataclasses.replace(ctx.settings, **values))
    return set_quotas


def test_quota_defaults_and_settings():
    from shared.config import Settings

    assert (Settings.attachments_max_count, Settings.attachments_max_bytes,
            Settings.upload_rate_limit) == (30, 100 * 1024 * 1024, "10/minute")
    env = {"NWS_DATA_DIR": "/tmp/nws-quota-settings", "NWS_SECRET_KEY": "k" * 40,
           "NWS_ATTACHMENTS_MAX_COUNT": "5", "NWS_ATTACHMENTS_MAX_BYTES": "1048576",
           "NWS_UPLOAD_RATE_LIMIT": "3/minute"}
    settings = Settings.from_env(env, embedded=True)
    assert (settings.attachments_max_count, settings.attachments_max_bytes,
            settings.upload_rate_limit) == (5, 1048576, "3/minute")
    for key, bad in (("NWS_ATTACHMENTS_MAX_COUNT", "３０"), ("NWS_ATTACHMENTS_MAX_BYTES", "0"),
                     ("NWS_UPLOAD_RATE_LIMIT", "often")):
        with pytest.raises(ValueError, match=key):
            Settings.from_env({**env, key: bad}, embedded=True)


def test_attachments_are_limited_in_number_per_application(s, quotas):
    quotas(attachments_max_count=2)
    app_id = new_app(s)
    assert [post_attachment(s, app_id, PDF).status_code for _ in range(2)] == [201, 201]
    res = post_attachment(s, app_id, PDF, "三つ目.pdf")
    assert res.status_code == 409
    body = res.get_json()
    assert body["error"]["code"] == "too_many_attachments"
    assert body["error"]["message"] == "添付資料は 1 申請あたり 2 件までです（登録済み 2 件）。"
    assert (body["limit"], body["used"]) == (2, 2)
    assert [a["id"] for a in s.get_app(app_id)["attachments"]] == ["A001", "A002"]


def test_attachments_are_limited_in_total_bytes_per_application(s, quotas):
    big = PDF + b"0" * 600
    quotas(attachments_max_bytes=2 * len(big) + len(PDF))   # exactly room for PDF
    app_id = new_app(s)
    assert post_attachment(s, app_id, big).status_code == 201
    assert post_attachment(s, app_id, big).status_code == 201
    res = post_attachment(s, app_id, big, "多すぎ.pdf")
    assert res.status_code == 413
    body = res.get_json()
    assert body["error"]["code"] == "attachments_too_large"
    limit, used = 2 * len(big) + len(PDF), 2 * len(big)
    message = body["error"]["message"]
    assert "合計サイズは 1 申請あたり" in message and f"（{limit:,} バイト）までです" in message
    assert f"登録済み 2 件で {used:,} バイト、このファイルは {len(big):,} バイト" in message
    assert (body["limit"], body["used"], body["size"]) == (limit, used, len(big))
    # A small one still fits (up to the limit itself).
    assert post_attachment(s, app_id, PDF).status_code == 201
    assert len(s.get_app(app_id)["attachments"]) == 3


def test_the_default_byte_quota_is_named_in_mib(s):
    from services.intake.uploads import mib

    assert mib(100 * 1024 * 1024) == "100 MiB" and mib(1536 * 1024) == "1.5 MiB"


def test_files_posted_to_one_application_are_rate_limited(s, layouts, quotas):
    quotas(upload_rate_limit="3/minute")
    app_id = new_app(s)
    workbook_file = xlsx(layouts, {"02-01": factories.form_02_01()})
    assert post_upload(s, app_id, workbook_file).status_code == 202
    assert post_attachment(s, app_id, PDF).status_code == 201
    assert post_attachment(s, app_id, b"not a pdf").status_code == 415   # refused ones count
    before = s.get_app(app_id)
    for res in (post_upload(s, app_id, workbook_file), post_attachment(s, app_id, PDF)):
        assert res.status_code == 429
        error = res.get_json()["error"]
        assert error["code"] == "rate_limited"
        assert error["message"].startswith(
            "この申請へのファイルのアップロードは1 分あたり 3 回までです（直近 1 分に 3 回アップロード済み）。")
        assert 1 <= int(res.headers["Retry-After"]) <= 60
    after = s.get_app(app_id)
    assert (len(after["uploads"]), len(after["attachments"])) == (
        len(before["uploads"]), len(before["attachments"]))
    # The limit is per application.
    wait_upload(s, app_id, after["uploads"][0]["id"])
    other_id = new_app(s)
    assert post_attachment(s, other_id, PDF).status_code == 201
