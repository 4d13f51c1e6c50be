"""The printable application: the print view (/intake/applications/ID/print) in
Japanese with A4 print rules, and its PDF (GET /api/intake/applications/ID.pdf) made by
an intake task with the machine's converter, cached per revision of the document."""
from __future__ import annotations

import datetime as dt
import html as htmllib
import io
import re
import shutil
import time
import unicodedata

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from services.intake import pdf, printing
from services.intake.models import PrintPdf
from shared.config import Settings
from shared.formview import location_label
from shared.pluginmanager import form_specs
from tests import factories
from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, text_of

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="Debian's chromium is not installed")
PDF_FILE = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + b"0" * 3000
COMMENT = "連絡窓口を確認しました。二次審査へ送ります。"
JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    # NWS_PDF_WAIT=0: GET .pdf never waits, so its first answer is always the 202.
    s = Suite(tmp_path_factory.mktemp("print") / "var", env={"NWS_PDF_WAIT": "0"})
    yield s
    s.close()


@pytest.fixture(scope="module")
def app_id(suite):
    """An application of 東京都千代田区 with every form, an attachment, under 一次審査."""
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    forms = factories.all_forms("131016")
    forms["03-06"]["attached_forms"] = [*forms["03-06"]["attached_forms"], "other"]
    factories.put_forms(suite.client, h, app_id, forms)
    res = suite.client.post(f"/api/intake/applications/{app_id}/attachments", headers=h,
                            data={"file": (io.BytesIO(PDF_FILE), "事務処理特例条例.pdf"),
                                  "title": "東京都の事務処理の特例に関する条例"})
    assert res.status_code == 201, res.get_json()
    wait_for(lambda: all(f["status"] == "valid"
                         for f in suite.get_app(app_id)["forms"].values()),
             what="forms validated")
    res = suite.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    suite.wait_status(app_id, "primary_review")
    return app_id


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def pdf_text(content: bytes) -> tuple[int, str, PdfReader]:
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(p.extract_text() or "" for p in reader.pages)
    # the CJK fonts map some kanji to their Kangxi radical code points (⽥ for 田)
    # and table cells wrap lines: compared without white space
    return len(reader.pages), "".join(unicodedata.normalize("NFKC", text).split()), reader


def get_pdf(suite, app_id: int, login: str, timeout: float = 90.0):
    """GET .pdf until it is no longer 202; returns (first answer, last answer)."""
    url = f"/api/intake/applications/{app_id}.pdf"
    first = suite.client.get(url, headers=suite.headers(login))
    last = first
    deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
    while last.status_code == 202:
        assert dt.datetime.now() < deadline, "the PDF was not made in time"
        time.sleep(0.3)
        last = suite.client.get(url, headers=suite.headers(login))
    return first, last


def test_print_view_shows_the_whole_application_in_japanese(suite, app_id):
    from tests.review.support import decide

    assert decide(suite, "demo-pref", app_id, "承認", COMMENT).status_code == 201
    app = suite.wait_status(app_id, "secondary_review")
    res = client_for(suite, "demo-applicant").get(f"/intake/applications/{app_id}/print")
    assert res.status_code == 200 and res.mimetype == "text/html"
    text = visible_text(text_of(res))

    assert f"申請番号 {app['number']}" in text
    assert "東京都千代田区（機関コード 131016）" in text
    specs = form_specs(suite.app.extensions["nws.plugins"])
    for code in app["forms"]:
        assert f"様{code} {specs[code].title}" in text
    assert "情報システム責任者" in text and "山田 一郎" in text      # 様02-01, by its labels
    assert "申請前情報選択" in text and "情報照会を行う事務" in text
    assert "事務処理特例条例.pdf" in text and "東京都の事務処理の特例に関する条例" in text
    assert re.search(r"A001 事務処理特例条例\.pdf 東京都の事務処理の特例に関する条例 3\.0 KB "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text), text[text.index("添付資料（"):][:200]
    assert "一次審査 承認" in text and COMMENT in text and "東京都（130001）" in text
    approved = next(h for h in app["history"] if h["event"] == "primary_approved")
    at = dt.datetime.fromisoformat(approved["at"]).astimezone(JST)
    assert f"{at:%Y-%m-%d %H:%M:%S}" in text and "日時（日本時間）" in text
    # no JSON, field paths, rule ids or event ids
    assert not re.search(r"[a-z]+_[a-z]+|\b(None|null|true|false|True|False)\b|[{}]", text), \
        re.findall(r".{20}(?:[a-z]+_[a-z]+|\bNone\b|[{}]).{20}", text)


def test_print_view_is_for_the_owner_its_reviewers_and_operators(suite, app_id):
    # demo-forwarder is an account of the applying organisation itself (千代田区)
    for login in ("demo-applicant", "demo-forwarder", "demo-pref", "demo-operator"):
        res = client_for(suite, login).get(f"/intake/applications/{app_id}/print")
        assert res.status_code == 200, login
    # linked from the application's page of each side
    own = text_of(client_for(suite, "demo-applicant").get(f"/applicant/applications/{app_id}"))
    case = text_of(client_for(suite, "demo-pref").get(f"/review/applications/{app_id}"))
    for page in (own, case):
        assert f'href="/intake/applications/{app_id}/print">印刷用表示（A4）</a>' in page
        assert f'href="/intake/applications/{app_id}/print.pdf">申請全体の PDF</a>' in page
    # not routed to them (yet), or another organisation: as if it did not exist
    for login in ("demo-jlis", "demo-boe"):
        res = client_for(suite, login).get(f"/intake/applications/{app_id}/print")
        assert res.status_code == 404, login
        assert "見つかりません" in text_of(res)


def test_print_view_prints_on_a4_without_navigation(suite, app_id):
    page = text_of(client_for(suite, "demo-applicant").get(f"/intake/applications/{app_id}/print"))
    assert '<link rel="stylesheet" href="/static/print.css">' in page
    assert '<nav class="no-print toolbar"' in page and 'aria-label="メインメニュー"' not in page
    css = suite.client.get("/static/print.css").get_data(as_text=True)
    page_rule = re.search(r"@page\s*{(.*?)\n}", css, re.S).group(1)
    assert "size: A4" in page_rule and "margin:" in page_rule
    print_rules = css[css.index("@media print"):]
    assert re.search(r"\.no-print\s*{\s*display:\s*none", print_rules)
    assert re.search(r"thead\s*{\s*display:\s*table-header-group", css)
    assert re.search(r"\btr\s*{[^}]*break-inside:\s*avoid", css)
    assert "overflow-wrap: anywhere" in css          # long values wrap: no overflow


@needs_chromium
def test_pdf_is_made_by_the_intake_task_and_made_again_when_the_application_changes(
        suite, app_id):
    number = suite.get_app(app_id)["number"]
    first, res = get_pdf(suite, app_id, "demo-mic")
    assert first.status_code == 202
    assert first.headers["Retry-After"].isdigit()
    assert first.headers["Location"] == f"/api/intake/applications/{app_id}.pdf"
    assert "PDF を作成しています" in first.get_json()["message"]

    assert res.status_code == 200 and res.mimetype == "application/pdf"
    assert res.headers["Content-Disposition"].startswith("attachment")
    assert f"nws-application-{number}.pdf" in res.headers["Content-Disposition"]
    pages, text, reader = pdf_text(res.data)
    assert pages >= 2
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [595, 842]   # A4
    assert number in text and "東京都千代田区" in text and "一次審査承認" in text

    again = suite.client.get(f"/api/intake/applications/{app_id}.pdf",
                             headers=suite.headers("demo-applicant"))
    assert again.status_code == 200 and again.data == res.data     # the same revision

    from tests.review.support import decide

    assert decide(suite, "demo-mic", app_id, "否認", "様02-02 の連絡先を直通番号にしてください。"
                  ).status_code == 201
    suite.wait_status(app_id, "returned")
    # the page asks for the new revision's PDF; while it is made, a polite status region
    # and a link to ask again (the page never reloads itself)
    waiting = client_for(suite, "demo-applicant").get(f"/intake/applications/{app_id}/print.pdf")
    assert waiting.status_code == 202 and "PDF を作成しています" in text_of(waiting)
    assert 'aria-live="polite"' in text_of(waiting) and "http-equiv" not in text_of(waiting)
    assert (f'id="refresh-link" href="/intake/applications/{app_id}/print.pdf">最新の状態に更新'
            in text_of(waiting))
    assert f"{printing.RETRY_SECONDS} 秒ほど" in text_of(waiting)
    _, res = get_pdf(suite, app_id, "demo-applicant")
    assert res.status_code == 200
    _, text, _ = pdf_text(res.data)
    assert "二次審査否認" in text and "直通番号にしてください" in text
    with suite.ctx("intake").transaction() as session:     # the old revision is gone
        assert session.scalar(select(func.count(PrintPdf.id)).where(
            PrintPdf.application_id == app_id)) == 1
    # the page twin, with the page's login: the same PDF
    page = client_for(suite, "demo-applicant").get(f"/intake/applications/{app_id}/print.pdf")
    assert page.status_code == 200 and page.mimetype == "application/pdf"
    assert page.data == res.data


def test_pdf_of_another_organisations_application_is_404(suite, app_id):
    for login in ("demo-boe", "demo-jlis"):
        res = suite.client.get(f"/api/intake/applications/{app_id}.pdf",
                               headers=suite.headers(login))
        assert res.status_code == 404, login
        assert "見つかりません" in res.get_json()["error"]["message"]
    assert suite.client.get(f"/api/intake/applications/{app_id}.pdf").status_code == 401


def test_pdf_without_a_converter_is_503_in_japanese(tmp_path):
    s = Suite(tmp_path / "var", start_worker=False,
              env={"NWS_PDF_CHROMIUM": "", "NWS_PDF_SOFFICE": ""})
    try:
        h = s.headers("demo-applicant")
        app_id = factories.create_application(s.client, h)
        res = s.client.get(f"/api/intake/applications/{app_id}.pdf", headers=h)
        assert res.status_code == 503
        assert "PDF 変換ソフト" in res.get_json()["error"]["message"]
        with s.ctx("intake").transaction() as session:
            assert session.scalar(select(func.count(PrintPdf.id))) == 0
        page = client_for(s, "demo-applicant").get(f"/intake/applications/{app_id}/print.pdf")
        assert page.status_code == 503 and "PDF 変換ソフト" in text_of(page)
    finally:
        s.close()


def test_a_conversion_that_fails_is_503_in_japanese_and_tried_again_later(tmp_path):
    # a "Chromium" that runs and makes no PDF
    s = Suite(tmp_path / "var", env={"NWS_PDF_CONVERTER": "chromium",
                                     "NWS_PDF_CHROMIUM": shutil.which("false"),
                                     "NWS_PDF_WAIT": "0"})
    try:
        h = s.headers("demo-applicant")
        app_id = factories.create_application(s.client, h)
        url = f"/api/intake/applications/{app_id}.pdf"
        assert s.client.get(url, headers=h).status_code == 202
        res = wait_for(lambda: (lambda r: r if r.status_code != 202 else None)(
            s.client.get(url, headers=h)), what="the conversion to fail")
        assert res.status_code == 503 and res.headers["Retry-After"] == "60"
        assert res.get_json()["error"]["message"] == printing.FAILED_MESSAGE
        with s.ctx("intake").transaction() as session:
            row = session.scalar(select(PrintPdf).where(PrintPdf.application_id == app_id))
            assert row.status == "failed" and "made no PDF" in row.error
            row.finished_at -= printing.RETRY_FAILED_AFTER      # a minute later …
        assert s.client.get(url, headers=h).status_code == 202  # … asked again
    finally:
        s.close()


def test_the_converter_is_the_one_forced_or_the_first_installed(tmp_path):
    def find(**env):
        return pdf.find_converter(Settings.from_env({"NWS_DATA_DIR": str(tmp_path), **env},
                                                    embedded=True))

    chromium, soffice = shutil.which("chromium"), shutil.which("soffice")
    if chromium:
        assert find() == pdf.Converter("chromium", chromium)
    if soffice:
        assert find(NWS_PDF_CONVERTER="libreoffice") == pdf.Converter("libreoffice", soffice)
        assert find(NWS_PDF_CHROMIUM="") == pdf.Converter("libreoffice", soffice)
    assert find(NWS_PDF_CONVERTER="libreoffice", NWS_PDF_SOFFICE="") is None
    assert find(NWS_PDF_CHROMIUM="", NWS_PDF_SOFFICE="") is None
    assert find(NWS_PDF_CHROMIUM=str(tmp_path / "no-such-program"), NWS_PDF_SOFFICE="") is None


def test_finding_locations_are_japanese_labels(suite):
    specs = form_specs(suite.app.extensions["nws.plugins"])
    label = location_label("03-07.query_affairs.1.pia.status", specs)
    assert label.startswith("様03-07 ") and "2 行目" in label and "特定個人情報保護評価" in label
    assert not re.search(r"[a-z_]{3,}", label)
    assert location_label("02-01.system_chief.name", specs) == "様02-01 ① 情報システム責任者 氏名"
    assert location_label("02-01.nonexistent_field", specs) == "様02-01"
    assert location_label("forms", specs) == "申請全体"
    assert location_label("02-01", specs) == "様02-01"
    # a form's own finding may name its field without the form code
    assert location_label("system_chief.title", specs, "02-01") == "様02-01 ① 情報システム責任者 役職名"
