"""Uploading the site's own forms.zip in headless Chromium: the applicant downloads every
form as one zip, uploads it back with the page's file field, and watches each file's
state change in the polite live region (updated by the page's script; without it, the
「最新の状態に更新」 link). Screenshots at 1366 and 375 px; nothing wider than a phone."""
from __future__ import annotations

from tests import factories
from tests.e2e.conftest import logged_in

PHONE = {"width": 375, "height": 740}


def test_uploading_the_forms_zip_shows_each_file_s_state(live, browser, screenshots,
                                                           tmp_path):
    s = live.suite
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    page = logged_in(browser, live, "demo-applicant")
    page.goto(f"{live.url}/applicant/applications/{app_id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="全様式をダウンロード（zip）").click()
    archive = tmp_path / "様式一式.zip"
    download.value.save_as(archive)

    page.set_input_files("#upload-file", str(archive))
    page.get_by_role("button", name="アップロードする").click()
    page.wait_for_load_state()
    assert "Excel ファイル 7 件を受け付けました" in page.content()
    live_region = page.locator("#upload-progress")
    assert live_region.get_attribute("aria-live") == "polite"
    # the script brings the states in without a reload
    live_region.filter(has_text="すべてのファイルの検証が終わりました").wait_for(timeout=60_000)
    cards = page.locator("#upload-list li.file")
    assert cards.count() == 7
    assert page.locator("#upload-list .status", has_text="検証中").count() == 0
    first_invalid = page.locator("#upload-list li.file-invalid").first
    assert "シート" in first_invalid.inner_text()
    page.screenshot(path=str(screenshots / "uploads_forms_zip_1366.png"), full_page=True)
    page.locator("form.upload").first.screenshot(path=str(screenshots / "uploads_form_1366.png"))
    page.locator("#upload-status").screenshot(path=str(screenshots / "uploads_list_1366.png"))

    phone = logged_in(browser, live, "demo-applicant", PHONE, javascript=False)
    phone.goto(f"{live.url}/applicant/applications/{app_id}#uploads")
    assert phone.locator("#upload-list li.file").count() == 7
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.locator("#upload-list").screenshot(
        path=str(screenshots / "uploads_forms_zip_375.png"))
    phone.screenshot(path=str(screenshots / "uploads_page_375.png"), full_page=True)

    # files none of which can be taken: the reasons next to the field, without JavaScript
    phone.set_input_files("#upload-file", files=[
        {"name": "メモ.txt", "mimeType": "text/plain", "buffer": b"memo"},
        {"name": "古い様式.xls", "mimeType": "application/vnd.ms-excel", "buffer": b"xls"}])
    phone.get_by_role("button", name="アップロードする").click()
    phone.wait_for_load_state()
    field = phone.locator("#upload-file")
    assert field.get_attribute("aria-invalid") == "true"
    error = phone.locator("#upload-error")
    assert "メモ.txt: " in error.inner_text() and "古い様式.xls: " in error.inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.locator("form.upload").first.screenshot(
        path=str(screenshots / "uploads_refused_375.png"))
    assert phone.locator("#upload-list li.file").count() == 7      # nothing stored
    page.context.close()
    phone.context.close()


def test_the_page_s_script_brings_in_the_new_state_without_a_reload(live, browser,
                                                                     screenshots):
    import datetime as dt

    from services.intake.models import Upload

    s = live.suite
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    with s.ctx("intake").transaction() as session:
        up = Upload(application_id=app_id, filename="検証中.xlsx", size=30_000,
                    sha256="0" * 64, content=None, status="received", forms=["02-01"],
                    findings=[], uploaded_by={}, started_at=dt.datetime.now(dt.UTC))
        session.add(up)
        session.flush()
        upload_id = up.id
    page = logged_in(browser, live, "demo-applicant", PHONE)
    page.goto(f"{live.url}/applicant/applications/{app_id}")
    region = page.locator("#upload-progress")
    assert "0 / 1 件のファイルの検証が終わりました" in region.inner_text()
    assert page.locator("#refresh-link").is_hidden()       # the script looks by itself
    page.locator("form.upload").first.screenshot(path=str(screenshots / "uploads_form_375.png"))
    page.evaluate("window.nwsMarker = 1")                   # gone if the page reloads
    with s.ctx("intake").transaction() as session:
        up = session.get(Upload, upload_id)
        up.status, up.findings = "done", [{
            "rule": "x", "severity": "error", "location": "02-01.system_chief.name",
            "message": "「様02-01」シート C17: ① 情報システム責任者 氏名を入力してください。"}]
    region.filter(has_text="すべてのファイルの検証が終わりました").wait_for(timeout=20_000)
    assert page.evaluate("window.nwsMarker") == 1
    assert page.locator("#upload-list .status").inner_text() == "誤りあり 1件"
    assert "「様02-01」シート C17" in page.locator("#upload-list").inner_text()
    page.context.close()
