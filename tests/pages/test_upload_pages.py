"""The applicant's application page: uploading a filled workbook (with progress while it
is read), each form's findings with the annotated workbook, and PDF attachments with
their ids — through the same domain functions and door checks as the upload API."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from services.intake.models import FormEntry, Upload
from shared import workbook as wbk
from shared.pluginmanager import form_specs
from tests import factories
from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, csrf_of, text_of

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def s(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("pages-uploads") / "var")
    suite.add_user("other-uploader", "132012", "applicant")
    yield suite
    suite.close()


@pytest.fixture(scope="module")
def layouts(s):
    return {code: spec.layout for code, spec in form_specs(s.runtime.plugins).items()}


@pytest.fixture(scope="module")
def client(s):
    return client_for(s, "demo-applicant")


def new_app(s) -> int:
    return factories.create_application(s.client, s.headers("demo-applicant"))


def page(app_id: int) -> str:
    return f"/applicant/applications/{app_id}"


def post_file(client, app_id: int, action: str, content: bytes, name: str, **fields):
    token = csrf_of(text_of(client.get(page(app_id))))
    return client.post(f"{page(app_id)}/{action}", content_type="multipart/form-data",
                       data={"csrf_token": token, "file": (io.BytesIO(content), name),
                             **fields})


def read_done(s, client, app_id: int) -> str:
    """The page once every upload is read and no form is being validated."""
    def settled():
        app = s.get_app(app_id)
        busy = any(u["status"] == "received" for u in app["uploads"]) or any(
            f["status"] == "validating" for f in app["forms"].values())
        return None if busy else app
    wait_for(settled, what=f"uploads of {app_id} read")
    return text_of(client.get(page(app_id)))


def test_the_page_offers_the_upload_and_attachment_forms(s, client):
    app_id = new_app(s)
    html = text_of(client.get(page(app_id)))
    form = re.search(r'<form[^>]*action="[^"]*/upload"[^>]*>.*?</form>', html, re.S).group(0)
    assert 'enctype="multipart/form-data"' in form and 'name="csrf_token"' in form
    assert ('<input type="file" id="upload-file" name="file" accept=".xlsx,.zip" multiple'
            in form)
    assert '<label for="upload-file">' in form
    att = re.search(r'<form[^>]*action="[^"]*/attachments"[^>]*>.*?</form>', html, re.S).group(0)
    assert 'accept=".pdf"' in att and '<label for="attachment-file">' in att
    assert "http-equiv=\"refresh\"" not in html


def test_an_uploaded_workbook_becomes_the_forms_data(s, client, layouts):
    app_id = new_app(s)
    forms = {"02-01": factories.form_02_01(), "02-02": factories.form_02_02()}
    res = post_file(client, app_id, "upload",
                    wbk.write_workbook([wbk.FormPart(layouts[c], d) for c, d in forms.items()]),
                    "様式.xlsx")
    assert res.status_code == 302 and res.headers["Location"].endswith(page(app_id))
    html = text_of(client.get(page(app_id)))
    assert "を受け付けました（様02-01、様02-02）" in html
    html = read_done(s, client, app_id)
    app = s.get_app(app_id)
    assert {c: f["status"] for c, f in app["forms"].items()} == {"02-01": "valid",
                                                                 "02-02": "valid"}
    with s.ctx("intake").transaction() as session:
        saved = {f.code: f.data for f in session.scalars(
            select(FormEntry).where(FormEntry.application_id == app_id))}
    assert saved == forms
    row = re.search(r'<li id="upload-\d+".*?</li>', html, re.S).group(0)
    assert "様式.xlsx" in row and "誤りなし" in row
    assert "http-equiv=\"refresh\"" not in html


def test_an_upload_being_read_shows_progress_politely_with_a_refresh_link(s, client):
    """No meta refresh: a polite live region (a script, when allowed, updates it) and,
    without JavaScript, a link that shows the page again."""
    app_id = new_app(s)
    with s.ctx("intake").transaction() as session:
        session.add(Upload(application_id=app_id, filename="読込み中.xlsx", size=1,
                           sha256="0" * 64, content=b"x", status="received", forms=[],
                           findings=[], uploaded_by={}))
        session.add(Upload(application_id=app_id, filename="検証中.xlsx", size=1,
                           sha256="0" * 64, content=b"x", status="received", forms=[],
                           findings=[], uploaded_by={}, started_at=dt.datetime.now(dt.UTC)))
    html = text_of(client.get(page(app_id)))
    assert "http-equiv" not in html
    live = re.search(r'<p id="upload-progress" role="status" aria-live="polite"[^>]*>(.*?)</p>',
                     html, re.S).group(1)
    assert "0 / 2 件のファイルの検証が終わりました" in live
    assert f'href="{page(app_id)}#uploads" id="refresh-link">最新の状態に更新</a>' in live
    rows = dict(re.findall(r'<span class="file-name">([^<]*)</span>\s*'
                           r'<span class="status status-\w+">([^<]*)</span>', html))
    assert rows == {"読込み中.xlsx": "受付済み", "検証中.xlsx": "検証中"}
    assert '<script src="/static/upload-progress.js" defer></script>' in html


def test_a_workbook_with_an_error_shows_the_finding_and_the_annotated_download(
        s, client, layouts):
    app_id = new_app(s)
    bad = factories.form_02_02(normal_contacts=[{"priority": 1, "department": "情報政策課",
                                                 "name": "", "phone": "03-1234",
                                                 "email": "joho@example.lg.jp"}])
    res = post_file(client, app_id, "upload",
                    wbk.write_workbook([wbk.FormPart(layouts["02-02"], bad)]), "様02-02.xlsx")
    assert res.status_code == 302
    html = read_done(s, client, app_id)
    section = re.search(r'<section aria-labelledby="findings-02-02">.*?</section>', html,
                        re.S).group(0)
    assert "「様02-02」シート E22: " in section and "03-1234" in section
    link = f'{page(app_id)}/forms/02-02.xlsx'
    assert f'href="{link}"' in section and "指摘箇所に印を付けた Excel" in section
    body = client.get(link).data
    ws = openpyxl.load_workbook(io.BytesIO(body))["様02-02"]
    assert "03-1234" in ws["E22"].comment.text


@pytest.mark.parametrize("content,name,message", [
    (b"plain text, not a workbook", "様式.txt", ".xlsx"),
    (b"%PDF-1.4 not a workbook", "様式.xlsx", ""),
    (b"", "", "ファイルを選んでください"),
])
def test_a_file_that_is_not_a_workbook_shows_a_japanese_error_and_stores_nothing(
        s, client, content, name, message):
    app_id = new_app(s)
    before = s.get_app(app_id)
    res = post_file(client, app_id, "upload", content, name)
    assert 400 <= res.status_code < 500
    html = text_of(res)
    error = re.search(r'<div class="flash error" role="alert" id="upload-error">(.*?)</div>',
                      html, re.S).group(1)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", error) and message in error
    after = s.get_app(app_id)
    assert after["uploads"] == [] and after["forms"] == before["forms"]
    assert after["history"] == before["history"]


def test_a_pdf_attachment_is_listed_with_its_id_and_a_non_pdf_is_refused(s, client):
    app_id = new_app(s)
    res = post_file(client, app_id, "attachments", PDF, "事務処理特例条例.pdf",
                    title="東京都の条例")
    assert res.status_code == 302
    html = text_of(client.get(page(app_id)))
    assert "添付資料ID は A001 です" in html
    row = re.search(r'<tr id="attachment-A001">.*?</tr>', html, re.S).group(0)
    assert "<code>A001</code>" in row and "事務処理特例条例.pdf" in row and "東京都の条例" in row
    res = post_file(client, app_id, "attachments", b"PK\x03\x04 zip", "偽物.pdf")
    assert res.status_code == 415 and 'id="upload-error"' in text_of(res)
    assert [a["id"] for a in s.get_app(app_id)["attachments"]] == ["A001"]


def test_another_organisation_gets_404_and_nothing_is_stored(s, client, layouts):
    app_id = new_app(s)
    before = s.get_app(app_id)
    other = client_for(s, "other-uploader")
    token = csrf_of(text_of(other.get("/applicant/")))
    xlsx = wbk.write_workbook([wbk.FormPart(layouts["02-01"], factories.form_02_01())])
    for action, content, name in (("upload", xlsx, "様式.xlsx"),
                                  ("attachments", PDF, "条例.pdf")):
        res = other.post(f"{page(app_id)}/{action}", content_type="multipart/form-data",
                         data={"csrf_token": token, "file": (io.BytesIO(content), name)})
        assert res.status_code == 404, action
    after = s.get_app(app_id)
    assert after["uploads"] == [] and after["attachments"] == []
    assert after["history"] == before["history"]


# --- quotas ----------------------------------------------------------------------------

@pytest.fixture
def quotas(s, monkeypatch):
    def set_quotas(**values):
        ctx = s.ctx("intake")
        monkeypatch.setattr(ctx, "settings", dataclasses.replace(ctx.settings, **values))
    return set_quotas


def error_of(res) -> str:
    return re.search(r'id="upload-error">([^<]*)<', text_of(res)).group(1)


def test_the_page_states_the_attachment_quota_and_what_is_used(s, client):
    app_id = new_app(s)
    assert post_file(client, app_id, "attachments", PDF, "条例.pdf").status_code == 302
    html = text_of(client.get(page(app_id)))
    quota = re.search(r'id="attachment-quota"[^>]*>([^<]*)<', html).group(1)
    assert "1 申請あたり 30 件・合計 100 MiB（104,857,600 バイト）まで" in quota
    assert f"登録済み 1 件・{len(PDF):,} バイト" in quota
    assert "Excel と PDF を合わせて1 分あたり 10 回まで" in quota


def test_attachment_quotas_on_the_page(s, client, quotas):
    quotas(attachments_max_count=1)
    app_id = new_app(s)
    assert post_file(client, app_id, "attachments", PDF, "条例.pdf").status_code == 302
    res = post_file(client, app_id, "attachments", PDF, "規約.pdf")
    assert res.status_code == 409
    assert error_of(res) == "添付資料は 1 申請あたり 1 件までです（登録済み 1 件）。"
    quotas(attachments_max_count=30, attachments_max_bytes=len(PDF) + 5)
    res = post_file(client, app_id, "attachments", PDF, "規約.pdf")
    assert res.status_code == 413
    assert f"登録済み 1 件で {len(PDF):,} バイト、このファイルは {len(PDF):,} バイト" in error_of(res)
    assert [a["id"] for a in s.get_app(app_id)["attachments"]] == ["A001"]


def test_uploads_on_the_page_are_rate_limited(s, client, layouts, quotas):
    quotas(upload_rate_limit="2/minute")
    app_id = new_app(s)
    xlsx = wbk.write_workbook([wbk.FormPart(layouts["02-01"], factories.form_02_01())])
    assert post_file(client, app_id, "upload", xlsx, "様式.xlsx").status_code == 302
    assert post_file(client, app_id, "attachments", PDF, "条例.pdf").status_code == 302
    for action, content, name in (("upload", xlsx, "様式.xlsx"),
                                  ("attachments", PDF, "規約.pdf")):
        res = post_file(client, app_id, action, content, name)
        assert res.status_code == 429 and 1 <= int(res.headers["Retry-After"]) <= 60
        assert error_of(res).startswith(
            "この申請へのファイルのアップロードは1 分あたり 2 回までです（直近 1 分に 2 回アップロード済み）。")
    app = s.get_app(app_id)
    assert (len(app["uploads"]), len(app["attachments"])) == (1, 1)
    read_done(s, client, app_id)


def test_the_attachment_list_links_each_file_with_size_uploader_and_time_in_jst(s, client):
    app_id = new_app(s)
    assert post_file(client, app_id, "attachments", PDF + b"0" * 2048, "規約.pdf",
                     title="事務の委託に関する規約").status_code == 302
    html = text_of(client.get(page(app_id)))
    row = re.search(r'<tr id="attachment-A001">.*?</tr>', html, re.S).group(0)
    href = f"/intake/applications/{app_id}/attachments/A001"
    assert f'<a href="{href}" class="attachment-link">規約.pdf</a>' in row
    assert f"{(len(PDF) + 2048) / 1024:.1f} KB" in row
    assert "東京都千代田区" in row and "申請 太郎" in row
    assert "登録日時（日本時間）" in html
    uploaded = dt.datetime.fromisoformat(s.get_app(app_id)["attachments"][0]["at"])
    assert uploaded.astimezone(dt.timezone(dt.timedelta(hours=9))).strftime(
        "%Y/%m/%d %H:%M") in row
    res = client.get(href)
    assert res.status_code == 200 and res.data == PDF + b"0" * 2048
    assert res.headers["Content-Disposition"].startswith('attachment; filename="')
    # another organisation's applicant: 404, as for an id that does not exist
    assert client_for(s, "other-uploader").get(href).status_code == 404
    assert client.get(f"/intake/applications/{app_id}/attachments/A404").status_code == 404


def test_the_applicant_deletes_an_attachment_after_confirming_while_editable(s, client):
    app_id = new_app(s)
    assert post_file(client, app_id, "attachments", PDF, "規約.pdf").status_code == 302
    html = text_of(client.get(page(app_id)))
    action = f"{page(app_id)}/attachments/A001/delete"
    # the button is inside a closed <details>: one click opens it, the second deletes
    confirm = re.search(r'<details class="confirm"><summary>削除</summary>(.*?)</details>',
                        html, re.S).group(1)
    assert f'action="{action}"' in confirm and 'name="csrf_token"' in confirm
    assert "A001（規約.pdf）を削除します。" in confirm
    assert client.post(action).status_code == 400          # no CSRF token
    assert [a["id"] for a in s.get_app(app_id)["attachments"]] == ["A001"]
    res = post_file(client, app_id, "attachments/A001/delete", b"", "x")  # with the token
    assert res.status_code == 302
    assert s.get_app(app_id)["attachments"] == []
    html = text_of(client.get(page(app_id)))
    assert "添付資料 A001 を削除しました。" in html
    assert re.search(r'<td[^>]*>添付資料の削除</td>', html) and "A001 規約.pdf" in html  # history


def test_deleting_after_submission_is_refused_in_japanese(s, client):
    h = s.headers("demo-applicant")
    app_id = new_app(s)
    assert post_file(client, app_id, "attachments", PDF, "規約.pdf").status_code == 302
    forms = factories.all_forms()
    forms["03-06"]["attached_forms"] = forms["03-06"]["attached_forms"] + ["other"]
    factories.put_forms(s.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id)["forms"].values()))
    assert s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h).status_code == 202
    s.wait_status(app_id, "primary_review")
    html = text_of(client.get(page(app_id)))
    assert "attachments/A001/delete" not in html     # no delete button once submitted
    token = csrf_of(html)
    res = client.post(f"{page(app_id)}/attachments/A001/delete", data={"csrf_token": token})
    assert res.status_code == 409
    assert "申請は現在「一次審査中」のため変更できません" in text_of(res)
    assert [a["id"] for a in s.get_app(app_id)["attachments"]] == ["A001"]


# --- several files at once, and the site's forms.zip ------------------------------------

def post_files(client, app_id: int, files: list[tuple[str, bytes]]):
    token = csrf_of(text_of(client.get(page(app_id))))
    return client.post(f"{page(app_id)}/upload", content_type="multipart/form-data",
                       data={"csrf_token": token,
                             "file": [(io.BytesIO(c), n) for n, c in files]})


def file_rows(html: str) -> dict[str, str]:
    """File name → its state as the page shows it."""
    return dict(re.findall(r'<span class="file-name">(?:<span class="muted">[^<]*</span>)?'
                           r'([^<]*)</span>\s*<span class="status status-\w+">([^<]*)</span>',
                           html))


def test_two_workbooks_at_once_are_each_listed_with_state_and_findings(s, client, layouts):
    app_id = new_app(s)
    bad = factories.form_02_02(normal_contacts=[{"priority": 1, "department": "情報政策課",
                                                 "name": "", "phone": "03-1234",
                                                 "email": "joho@example.lg.jp"}])
    res = post_files(client, app_id, [
        ("責任体制.xlsx", wbk.write_workbook([wbk.FormPart(layouts["02-01"],
                                                          factories.form_02_01())])),
        ("連絡窓口.xlsx", wbk.write_workbook([wbk.FormPart(layouts["02-02"], bad)]))])
    assert res.status_code == 302
    html = text_of(client.get(page(app_id)))
    assert "Excel ファイル 2 件を受け付けました（様02-01、様02-02）" in html
    html = read_done(s, client, app_id)
    assert file_rows(html) == {"責任体制.xlsx": "誤りなし", "連絡窓口.xlsx": "誤りあり 1件"}
    card = re.search(r'<li id="upload-\d+" class="file file-invalid">.*?</details>', html,
                     re.S).group(0)
    assert "<details class=\"file-findings\" open>" in card
    assert re.search(r"<strong>誤り</strong> 「様02-02」シート E22: [^<]*03-1234", card)
    assert re.search(r"\d\.\d KB", card) and "（日本時間）" in card
    live = re.search(r'id="upload-progress"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "すべてのファイルの検証が終わりました" in live and "refresh-link" not in live
    assert "http-equiv" not in html
    assert not re.search(r"\d{2}-\d{2}\.\w+(\[\d+\])?\.\w+", card)   # no field path shown


def test_the_site_s_forms_zip_is_read_file_by_file(s, client):
    app_id = new_app(s)
    number = s.get_app(app_id)["number"]
    archive = client.get(f"{page(app_id)}/forms.zip").data
    res = post_files(client, app_id, [("様式一式.zip", archive)])
    assert res.status_code == 302
    html = read_done(s, client, app_id)
    rows = file_rows(html)
    codes = list(layouts_codes(s))
    assert set(rows) == {f"{number}_様{c}.xlsx" for c in codes}
    # the blank forms as the site made them: read, with the cells still to fill in
    assert all(re.fullmatch(r"誤りあり \d+件|誤りなし.*", state) for state in rows.values())
    assert any(state.startswith("誤りあり") for state in rows.values())
    assert html.count('<span class="muted">様式一式.zip 内の </span>') == len(codes)
    assert re.search(r"<strong>誤り</strong> 「様02-01」シート [A-Z]+\d+: ", html)
    assert set(s.get_app(app_id)["forms"]) == set(codes)


def layouts_codes(s):
    return [c for c, spec in form_specs(s.runtime.plugins).items() if spec.layout is not None]


def test_files_none_of_which_can_be_taken_are_shown_next_to_the_field_and_nothing_stored(
        s, client):
    app_id = new_app(s)
    before = s.get_app(app_id)
    res = post_files(client, app_id, [("メモ.txt", b"text"),
                                      ("様式.zip", b"PK\x03\x04 not really")])
    assert res.status_code == 422
    html = text_of(res)
    form = re.search(r'<form[^>]*action="[^"]*/upload"[^>]*>.*?</form>', html, re.S).group(0)
    assert 'aria-invalid="true"' in form and 'aria-describedby="upload-hint upload-error"' in form
    error = re.search(r'id="upload-error">(.*?)</div>', form, re.S).group(1)
    assert "受け付けられるファイルがありませんでした" in error
    assert "<li>メモ.txt: 「メモ.txt」は .xlsx ファイルではありません" in error
    assert "<li>様式.zip: 「様式.zip」は zip ファイルとして読み取れません" in error
    after = s.get_app(app_id)
    assert after["uploads"] == [] and after["history"] == before["history"]


def test_a_refused_entry_of_a_zip_is_listed_by_name_while_the_others_are_read(
        s, client, layouts):
    app_id = new_app(s)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("責任体制.xlsx", wbk.write_workbook([wbk.FormPart(
            layouts["02-01"], factories.form_02_01())]))
        zf.writestr("メモ.txt", "not a workbook")
    res = post_files(client, app_id, [("記入済み.zip", buf.getvalue())])
    assert res.status_code == 302
    html = text_of(client.get(page(app_id)))
    assert "Excel ファイル 1 件を受け付けました（様02-01）。1 件は受け付けられませんでした" in html
    html = read_done(s, client, app_id)
    rows = file_rows(html)
    assert rows["責任体制.xlsx"] == "誤りなし"
    assert rows["メモ.txt"].startswith("読み込めません（「メモ.txt」は .xlsx ファイルではありません")


# --- how each finding of a file reads ---------------------------------------------------

CELL_FIRST = re.compile(r"^「[^」]+」シート [A-Z]+\d+: (?!「[^」]+」シート)\S")
FIELD_PATH = re.compile(r"[a-z_]+(\.\d+|\[\d+\])|\b[a-z]+_[a-z_]+\b|\.schema\b")


def _card_findings(html: str, name: str) -> list[str]:
    card = re.search(r'<li id="upload-\d+" class="file[^"]*">(?:(?!</li>\s*<li id="upload-).)*?'
                     rf'<span class="file-name">(?:<span class="muted">[^<]*</span>)?{re.escape(name)}'
                     r'</span>.*?(?=<li id="upload-|</ul>\s*</section>|\Z)', html, re.S)
    assert card, name
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(
        r'<li class="sev-\w+"><strong>[^<]*</strong> (.*?)</li>', card.group(0), re.S)]


def test_each_finding_of_a_workbook_reads_sheet_cell_then_message_once(s, client, layouts):
    """A workbook with errors in several forms: each finding on its card reads
    「sheet」 cell: message, once per cell (the reading's finding, not the schema's again),
    in Japanese, without a field path; so do the forms' findings tables."""
    from nws import testing as forms

    app_id = new_app(s)
    parts = [
        ("02-01", forms.form_02_01(application_date="2026-13-45",
                                   system_chief={"title": "長" * 101, "name": "山田 一郎"})),
        ("02-02", forms.form_02_02(normal_contacts=[{
            "priority": 1, "department": "情報政策課", "name": "", "phone": "03-1234",
            "email": "bad@@example"}])),
        ("02-06", forms.form_02_06(checks=[{"category": "一", "item": "管理体制",
                                            "result": "たぶん", "note": ""}])),
        ("03-09", forms.form_03_09(independent_affairs=[{
            "case_no": "0001", "affair": "事務", "ppc_notification_no": "PPC-1",
            "ordinance": "条例", "request_type": "何か"}])),
    ]
    book = wbk.write_workbook([wbk.FormPart(layouts[c], d) for c, d in parts])
    assert post_files(client, app_id, [("全部.xlsx", book)]).status_code == 302
    html = read_done(s, client, app_id)
    texts = _card_findings(html, "全部.xlsx")
    assert len(texts) >= 6, texts
    for text in texts:
        assert CELL_FIRST.match(text), text
        assert not FIELD_PATH.search(text), text
        assert not re.search(r"\b(Must|Not a valid|Length|Missing|field)\b", text), text
    cells = [re.match(r"^(「[^」]+」シート [A-Z]+\d+):", t).group(1) for t in texts]
    assert len(cells) == len(set(cells)), texts          # one finding per cell
    assert any("「様02-06確認結果」シート D5: 確認結果「たぶん」はプルダウンの選択肢" in t for t in texts)
    assert any(t.startswith("「様02-01」シート C16: ") and "100" in t for t in texts), texts
    # the forms' findings tables (内容) say the same, without a path either
    for code in ("02-01", "02-06", "03-09"):
        section = re.search(rf'<section aria-labelledby="findings-{code}">.*?</section>',
                            html, re.S).group(0)
        messages = re.findall(r'<tr class="sev-\w+"><td>[^<]*</td>\s*<td>[^<]*</td><td>([^<]*)</td>',
                              section)
        assert messages and all(CELL_FIRST.match(m) and not FIELD_PATH.search(m)
                                for m in messages), messages


def test_a_bad_entry_of_a_zip_reads_as_its_own_reason_without_a_form_prefix(
        s, client, layouts):
    app_id = new_app(s)
    buf = io.BytesIO()
    blank = openpyxl.Workbook()
    blank.active.title = "Sheet1"
    other = io.BytesIO()
    blank.save(other)
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("連絡窓口.xlsx", wbk.write_workbook([wbk.FormPart(
            layouts["02-02"], factories.form_02_02(normal_contacts=[{
                "priority": 1, "department": "情報政策課", "name": "", "phone": "03-1234",
                "email": "joho@example.lg.jp"}]))]))
        zf.writestr("関係ない.xlsx", other.getvalue())
        zf.writestr("壊れた.xlsx", b"PK\x03\x04broken")
    assert post_files(client, app_id, [("まとめ.zip", buf.getvalue())]).status_code == 302
    html = read_done(s, client, app_id)
    rows = file_rows(html)
    assert rows["関係ない.xlsx"].startswith("読み込めません（様式のシートが見つかりません")
    assert rows["壊れた.xlsx"].startswith("読み込めません（Excel ファイル（.xlsx）として読み取れません")
    assert rows["連絡窓口.xlsx"] == "誤りあり 1件"
    texts = _card_findings(html, "連絡窓口.xlsx")
    assert len(texts) == 1 and CELL_FIRST.match(texts[0]) and "03-1234" in texts[0]
    for state in (rows["関係ない.xlsx"], rows["壊れた.xlsx"]):
        assert not state.startswith("読み込めません（様0") and not FIELD_PATH.search(state)
