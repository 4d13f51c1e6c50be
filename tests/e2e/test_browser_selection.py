"""The 申請前情報選択 page in headless Chromium at a phone's width (375 px) and at 1366 px:
nothing wider than the screen, rows grouped and readable, the organisation picker used
with JavaScript (search as one types) and without (「検索」 posts the page)."""
from __future__ import annotations

from services.intake import selection
from services.intake.models import Application
from tests import factories
from tests.e2e.conftest import logged_in

PHONE = {"width": 375, "height": 740}
ITEM = "九"
HACHIOJI = "132012"


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        page.url, page.evaluate("document.documentElement.scrollWidth"))


def _open(page, group: str) -> None:
    if page.locator(f"#group-{group}").get_attribute("open") is None:
        page.locator(f"#group-{group} > summary").click()


def _saved(suite, app_id: int) -> dict:
    with suite.ctx("intake").transaction() as session:
        return selection.describe_selection(session, session.get(Application, app_id))


def _new_application(suite) -> int:
    h = suite.headers("demo-applicant")
    factories.withdraw_open(suite.client, h)
    return factories.create_application(suite.client, h)


def test_selection_page_at_375px_picks_a_delegator_as_one_types(live, browser, screenshots):
    suite = live.suite
    app_id = _new_application(suite)
    url = f"{live.url}/applicant/applications/{app_id}/selection"
    page = logged_in(browser, live, "demo-applicant", PHONE)
    page.goto(url)
    _fits(page)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 12000, height
    page.screenshot(path=str(screenshots / "selection_375.png"), full_page=True)

    _open(page, "q-auto")
    row = page.locator(f"#row-q-{ITEM}")
    row.locator(f"#qm_{ITEM}").select_option("受任事務")
    row.get_by_text("機関を検索して追加").click()
    row.get_by_label("都道府県").select_option(label="東京都")
    row.get_by_label("機関名または団体コード（一部でも可）").fill("八王子")
    row.locator(".org-results p", has_text="2件").wait_for()
    match = row.locator(".org-results label", has_text="東京都八王子市").first
    _fits(page)
    page.screenshot(path=str(screenshots / "selection_picker_375.png"), full_page=False)
    match.locator("input").check()
    # the ticked match moved to the chosen ones: a new search does not lose it
    chosen = row.locator(".org-chosen")
    assert "東京都八王子市" in chosen.inner_text() and HACHIOJI in chosen.inner_text()
    row.get_by_label("機関名または団体コード（一部でも可）").fill("町田")
    row.locator(".org-results label", has_text="東京都町田市").first.wait_for()
    assert "東京都八王子市" in chosen.inner_text()
    # leaving by a link with the change unsaved asks first
    asked = []
    page.once("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    page.get_by_role("link", name="申請の画面へ（様式の入力・提出）").click()
    assert asked == ["beforeunload"] and page.url.endswith("/selection")
    page.locator("#save-selection").click()
    page.wait_for_load_state()
    assert "申請前情報の選択を保存しました。" in page.content()
    row = next(r for r in _saved(suite, app_id)["selection"]["query_affairs"]
               if r["item_no"] == ITEM)
    assert row["delegators"] == [HACHIOJI]
    _fits(page)
    page.context.close()


def test_selection_page_without_javascript_and_at_1366px(live, browser, screenshots):
    suite = live.suite
    app_id = _new_application(suite)
    url = f"{live.url}/applicant/applications/{app_id}/selection"
    page = logged_in(browser, live, "demo-applicant", PHONE, javascript=False)
    page.goto(url)
    _open(page, "q-auto")
    row = page.locator(f"#row-q-{ITEM}")
    row.locator(f"#qm_{ITEM}").select_option("受任事務")
    row.get_by_text("機関を検索して追加").click()
    row.get_by_label("都道府県").select_option(label="東京都")
    row.get_by_label("機関名または団体コード（一部でも可）").fill("八王子")
    row.get_by_role("button", name="検索").click()
    page.wait_for_load_state()
    row = page.locator(f"#row-q-{ITEM}")
    assert row.locator(f"#qm_{ITEM}").input_value() == "受任事務"     # kept
    row.get_by_label("東京都八王子市 132012", exact=False).first.check()
    _fits(page)
    page.screenshot(path=str(screenshots / "selection_nojs_search_375.png"), full_page=False)
    # 保存して様式を作成: the choices are saved, then the workbooks come
    with page.expect_download() as download:
        page.locator("#make-forms").click()
    assert download.value.suggested_filename.endswith(".zip")
    row = next(r for r in _saved(suite, app_id)["selection"]["query_affairs"]
               if r["item_no"] == ITEM)
    assert row["delegators"] == [HACHIOJI]
    page.context.close()

    wide = logged_in(browser, live, "demo-applicant")
    wide.goto(url)
    _fits(wide)
    _open(wide, "q-auto")
    assert "東京都八王子市" in wide.locator(f"#row-q-{ITEM} .org-chosen").inner_text()
    wide.screenshot(path=str(screenshots / "selection_1366.png"), full_page=True)
    # an error: on its row, linked from the summary at the top
    wide.locator(f"#row-q-{ITEM} .org-chosen input").uncheck()
    wide.locator("#save-selection").click()
    wide.wait_for_load_state()
    link = wide.locator("#selection-errors a", has_text=f"情報照会 項番 {ITEM}")
    link.click()
    assert wide.evaluate("decodeURIComponent(location.hash)") == f"#row-q-{ITEM}"
    top = wide.locator(f"#row-q-{ITEM}").evaluate("e => e.getBoundingClientRect().top")
    assert 0 <= top < 768                             # the row is on the screen
    assert wide.locator(f"#q_{ITEM}").get_attribute("aria-describedby") == f"err-q-{ITEM}"
    wide.screenshot(path=str(screenshots / "selection_error_1366.png"), full_page=False)
    wide.context.close()


def test_account_request_page_at_375px_finds_the_organisation(live, browser, screenshots):
    context = browser.new_context(viewport=PHONE, locale="ja-JP", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live.url}/account-requests/new")
    assert page.locator("#org-org details.org-search").get_attribute("open") is not None
    page.get_by_label("都道府県").select_option(label="東京都")
    page.get_by_label("機関名または団体コード（一部でも可）").fill("八王子")
    page.get_by_role("button", name="検索").click()
    page.wait_for_load_state()
    page.get_by_label("東京都八王子市 132012", exact=False).first.check()
    _fits(page)
    page.screenshot(path=str(screenshots / "account_request_375.png"), full_page=True)
    context.close()
