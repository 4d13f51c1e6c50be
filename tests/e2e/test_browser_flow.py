"""One whole application through the pages only, in headless Chromium: a 教育委員会
selects, fills its forms (through the API: the web forms have their own test) and submits; its 首長部局 passes it on; the prefecture tries a
否認 without a reason (refused in Japanese) and approves; 総務省 reads the forms and the
matching results and approves; the master has the new version. A screenshot of each
main page is kept under test-artifacts/screenshots/."""
from __future__ import annotations

import time

from tests import factories
from tests.form_data import form_03_08, query_delegation
from tests.e2e.conftest import VIEWPORT, logged_in

ORG = "131016-BOE"


def _login(browser, live, login: str, viewport: dict = VIEWPORT):
    return logged_in(browser, live, login, viewport)


def _reload_until(page, check, what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what} on {page.url}"
        page.wait_for_timeout(400)
        page.reload()
        page.wait_for_load_state()


def _shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    # Usable at 1366×768: nothing forces the page wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"], name


def _attachments_download(page, screenshots, name: str, width: int = VIEWPORT["width"]) -> None:
    """On a reviewer's case page, the list of attachments and the 添付資料ID in 様03-08
    both download the attached PDF (under its Japanese file name)."""
    listed = page.locator("#attachment-list")
    text = listed.inner_text()
    assert "事務の委託に関する規約.pdf" in text and "登録日時（日本時間）" in text
    assert f"{len(factories.PDF)} バイト" in text and "東京都千代田区教育委員会" in text
    for link in (listed.locator("a.attachment-link").first,
                 page.locator("#form-03-08 a.attachment-ref").first):
        assert link.is_visible()
        link.scroll_into_view_if_needed()
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "事務の委託に関する規約.pdf"
        with open(download.value.path(), "rb") as f:
            assert f.read() == factories.PDF
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    # Usable at this width: the page itself never scrolls sideways (wide tables scroll
    # inside their own box).
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name


def test_one_application_from_selection_to_master_registration(live, browser, screenshots):
    # --- the 教育委員会 (applicant) --------------------------------------------------
    boe = _login(browser, live, "demo-boe")
    assert boe.url.endswith("/applicant/")
    # By keyboard: the first Tab reaches the skip link.
    boe.keyboard.press("Tab")
    assert boe.evaluate("document.activeElement.textContent") == "本文へ移動"
    _shot(boe, screenshots, "01_applicant_dashboard")

    boe.select_option("#kind", "connection")
    boe.get_by_role("button", name="新しい申請を作成").click()
    assert "/selection" in boe.url
    assert boe.get_by_role("heading", name="申請前情報選択画面").is_visible()
    assert boe.locator("input[type=checkbox][id^=q_]").count() > 0
    _shot(boe, screenshots, "02_applicant_selection")
    # The 受任事務 its 様03-08 will declare (項番九, delegated by 132012) is selected too.
    # The 委任元 is searched by its code and picked (the picker searches as one types).
    boe.locator("#group-q-extra > summary").click()
    boe.fill("#xq_0", "九")
    extra = boe.locator("#row-xq-0")
    extra.get_by_text("機関を検索して追加").click()
    extra.get_by_label("機関名または団体コード（一部でも可）").fill("132012")
    extra.locator(".org-results label", has_text="東京都八王子市 132012").first.locator(
        "input").check()
    assert "東京都八王子市" in extra.locator(".org-chosen").inner_text()
    boe.click("#save-selection")
    assert boe.get_by_text("申請前情報の選択を保存しました。").is_visible()
    with boe.expect_download() as download:
        boe.click("#make-forms")
    assert download.value.suggested_filename.endswith("_様式.zip")

    boe.get_by_role("link", name="申請の画面へ（様式の入力・提出）").click()
    number = boe.locator("h1").inner_text().split()[1].split("（")[0]
    forms = factories.all_forms(ORG)
    forms["03-08"] = form_03_08(ORG, query_delegations=[query_delegation()])
    # The 規約 its delegation rests on is attached (添付資料ID A001) and 様03-06 says so.
    boe.set_input_files("#attachment-file", files=[{
        "name": "事務の委託に関する規約.pdf", "mimeType": "application/pdf",
        "buffer": factories.PDF}])
    boe.fill("#attachment-title", "事務の委託に関する規約")
    boe.click("#attach")
    assert boe.get_by_text("添付資料ID は A001 です。").is_visible()
    forms["03-06"]["attached_forms"] = forms["03-06"]["attached_forms"] + ["other"]
    # The forms' contents go in as a bulk submitter's would (PUT …/forms/CODE): typing
    # into the web forms has its own test (test_web_form_typed_with_an_added_row_and_saved).
    app_id = int(boe.url.rstrip("/").split("/")[-1])
    factories.put_forms(live.suite.client, live.suite.headers("demo-boe"), app_id, forms)
    boe.locator("#form-02-01").get_by_role("link", name="入力").click()
    assert boe.locator("#f-system-chief-name").input_value() == forms["02-01"]["system_chief"]["name"]
    _shot(boe, screenshots, "03_applicant_form_entry")
    boe.get_by_role("link", name=number).first.click()
    _reload_until(boe, lambda: boe.locator("#progress").count() == 0, "forms validated")
    for code in forms:
        assert boe.locator(f"#form-{code} .status").inner_text() == "誤りなし", code
    _shot(boe, screenshots, "04_applicant_application")
    boe.click("#submit")
    assert boe.get_by_role("heading", name="提出内容の確認").is_visible()
    boe.click("#confirm-submit")
    assert boe.locator("#receipt-h").inner_text() == "受付完了"
    boe.click("#back")
    _reload_until(boe, lambda: "経由機関確認中" in boe.locator("table.summary").inner_text(),
                  "forwarding")

    # --- the 首長部局 passes it on ------------------------------------------------------
    fwd = _login(browser, live, "demo-forwarder")
    assert fwd.url.endswith("/review/")
    _shot(fwd, screenshots, "05_forwarder_queue")
    fwd.get_by_role("link", name=number).click()
    fwd.check("#result-ok")
    fwd.click("#decide")
    fwd.click("#confirm-decision")
    assert fwd.get_by_text("申請を審査機関へ送りました。").is_visible()

    # --- the prefecture: a 否認 needs a reason; then 承認 -------------------------------
    pref = _login(browser, live, "demo-pref")
    _reload_until(pref, lambda: pref.get_by_role("link", name=number).count() > 0,
                  "the prefecture's queue")
    pref.get_by_role("link", name=number).click()
    # Each form is shown as readable tables, not only as a download.
    assert pref.locator("table.form-fields").count() == len(forms)
    _attachments_download(pref, screenshots, "06a_prefecture_attachments")
    narrow = _login(browser, live, "demo-pref", {"width": 375, "height": 800})
    narrow.goto(pref.url)
    _attachments_download(narrow, screenshots, "06b_prefecture_attachments_375px", 375)
    narrow.context.close()
    pref.check("#result-ng")
    pref.click("#decide")
    assert pref.locator("#decision-error").inner_text() == \
        "否認する場合は具体的な理由をコメントに記入してください。"
    _shot(pref, screenshots, "06_prefecture_decision_error")
    pref.check("#result-ok")
    pref.fill("#comment", "内容を確認しました。")
    pref.click("#decide")
    pref.click("#confirm-decision")
    assert pref.get_by_text("申請を承認しました。").is_visible()

    # --- 総務省: forms as tables, matching results, 承認 ---------------------------------
    mic = _login(browser, live, "demo-mic")
    _reload_until(mic, lambda: mic.get_by_role("link", name=number).count() > 0,
                  "MIC's queue")
    _shot(mic, screenshots, "07_mic_queue")
    mic.get_by_role("link", name=number).click()
    _reload_until(mic, lambda: mic.locator("#matching").count() > 0, "matching results")
    assert mic.locator("#form-02-01 table.form-fields").inner_text().count("山田 一郎") >= 1
    assert "132012" in mic.locator("#matching").inner_text()
    _shot(mic, screenshots, "08_mic_application")
    # the 委任元 has not confirmed yet: 総務省 sees the unresolved 突合 above the
    # decision and may approve only by acknowledging it with a reason
    assert mic.locator("#unresolved-matching").is_visible()
    assert "委任元の確認待ち" in mic.locator("#unresolved-matching").inner_text()
    mic.check("#result-ok")
    mic.click("#decide")
    assert "突合" in mic.locator("#decision-error").inner_text()
    mic.check("#acknowledge_matching")
    mic.fill("#comment", "委任元の確認は別途書面で受領済み。")
    _shot(mic, screenshots, "08b_mic_acknowledge_matching")
    mic.click("#decide")
    assert "突合の未解決" in mic.locator("#decision-effect").inner_text()
    mic.click("#confirm-decision")
    assert mic.get_by_text("申請を承認しました。").is_visible()

    mic.goto(f"{live.url}/master/")
    _reload_until(mic, lambda: mic.get_by_role("link", name="第1版").count() > 0,
                  "master version 1")
    assert number in mic.locator("#versions").inner_text()
    _shot(mic, screenshots, "09_master_versions")
    mic.get_by_role("link", name="第1版").click()
    assert "東京都千代田区教育委員会" in mic.locator("main").inner_text() or \
        ORG in mic.locator("main").inner_text()
    _shot(mic, screenshots, "10_master_version")
    mic.goto(f"{live.url}/review/progress")
    assert mic.locator("#progress-chart").is_visible()
    assert "東京都" in mic.locator("#progress-table").inner_text()
    _shot(mic, screenshots, "11_progress_chart")
    mic.goto(f"{live.url}/matching/graph?org={ORG}")
    assert mic.locator("#graph").is_visible()
    _shot(mic, screenshots, "12_delegation_graph")

    # --- the applicant sees the outcome -------------------------------------------------
    _reload_until(boe, lambda: "登録済" in boe.locator("table.summary").inner_text(),
                  "registered")
    assert "二次審査 承認" in boe.locator("main").inner_text()
    _shot(boe, screenshots, "13_applicant_registered")
    for page in (boe, fwd, pref, mic):
        page.context.close()


def test_web_form_typed_with_an_added_row_and_saved(live, browser, screenshots):
    """The 千代田区 applicant types 様02-02 into its web form, adds a row to a table, is
    warned before leaving with unsaved changes, saves, and the form validates; every
    form's page fits 1366 px and 375 px without scrolling sideways."""
    factories.withdraw_open(live.suite.client, live.suite.headers("demo-applicant"))
    page = _login(browser, live, "demo-applicant")
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(msg.text))
    page.select_option("#kind", "connection")
    page.get_by_role("button", name="新しい申請を作成").click()
    app_id = int(page.url.split("/applications/")[1].split("/")[0])
    base = f"{live.url}/applicant/applications/{app_id}/forms"
    page.goto(f"{base}/02-02")
    assert page.get_by_label("連絡窓口責任者 氏名").is_visible()
    page.fill("#f-application-date", "2026/11/20")
    page.fill("#f-writer-department", "情報政策課")
    page.fill("#f-writer-title", "主任")
    page.fill("#f-writer-name", "千代田 一郎")
    page.fill("#f-contact-chief-title", "情報政策担当部長")
    page.fill("#f-contact-chief-name", "千代田 太郎")
    for table, row in (("normal_contacts", ("1", "情報政策課", "", "03-3264-2111", "joho@example.lg.jp")),
                       ("emergency_contacts", ("1", "千代田 太郎", "090-1234-5678", "kinkyu@example.lg.jp"))):
        page.locator(f'button[value="add:{table}"]').click()
        page.wait_for_load_state()
        columns = ("priority", "department", "name", "phone", "email") if len(row) == 5 else (
            "priority", "name", "phone", "email")
        for column, value in zip(columns, row):
            if value:
                page.fill(f'[name="{table}[0].{column}"]', value)
    # typed so far is kept across the row buttons
    assert page.input_value("#f-contact-chief-name") == "千代田 太郎"
    assert page.input_value("#f-normal-contacts-0-phone") == "03-3264-2111"
    asked = []
    page.once("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    page.get_by_role("link", name="保存せずに申請の画面へ戻る").click()
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"] and "/forms/02-02" in page.url   # webform.js runs
    assert not [m for m in messages if "Content Security Policy" in m or "Refused" in m]
    _shot(page, screenshots, "07_applicant_web_form_02-02")
    page.click("#save-form")
    assert page.get_by_text("様02-02を保存しました。").is_visible()
    _reload_until(page, lambda: page.locator("#validating").count() == 0, "02-02 validated")
    assert page.locator(".status").first.inner_text() == "誤りなし"
    assert page.locator('[aria-invalid="true"]').count() == 0
    stored = live.suite.get_app(app_id)["forms"]["02-02"]
    assert stored["status"] == "valid"
    # every form's page, at both widths
    narrow = _login(browser, live, "demo-applicant", {"width": 375, "height": 800})
    for code in ("02-01", "02-02", "02-06", "03-06", "03-07", "03-08", "03-09"):
        for p, width in ((page, VIEWPORT["width"]), (narrow, 375)):
            p.goto(f"{base}/{code}")
            assert p.locator("#webform").is_visible()
            p.screenshot(path=str(screenshots / f"08_web_form_{code}_{width}px.png"),
                         full_page=True)
            assert p.evaluate("document.documentElement.scrollWidth") <= width, (code, width)
    narrow.context.close()
    page.context.close()
