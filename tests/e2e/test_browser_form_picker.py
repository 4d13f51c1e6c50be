"""The 様03-08 web form in headless Chromium with JavaScript, at 1366 px and at 375 px:
organisations picked by searching as one types, 「行を追加」/「削除」 in the page without
a round trip (the rows renumbered as the server names them), the unsaved-changes warning,
what is saved the organisation codes, and axe with nothing to say about the added row.
(Without JavaScript: tests/pages/test_form_org_picker.py.)"""
from __future__ import annotations

from tests import factories
from tests.e2e.conftest import logged_in
from tests.e2e.test_accessibility_crawl import _axe, _axe_runner
from tests.form_data import form_03_08, put_selection_for, query_delegation

PHONE = {"width": 375, "height": 740}
HACHIOJI, CHIYODA = "132012", "131016"
CHAIN = "#t-query-delegations-0-chain"


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        page.url, page.evaluate("document.documentElement.scrollWidth"))


def _application(suite) -> int:
    h = suite.headers("demo-applicant")
    factories.withdraw_open(suite.client, h)
    app_id = factories.create_application(suite.client, h)
    put_selection_for(suite.client, h, app_id, form_03_08(query_delegations=[query_delegation()]))
    return app_id


def _pick(page, picker: str, pref: str, text: str, name: str) -> None:
    """Search in picker ``picker`` (its id) as one types and tick the match ``name`` (of
    2: the organisation and its 教育委員会)."""
    box = page.locator(f"#{picker}")
    box.locator("summary").click()
    box.get_by_label("都道府県").select_option(label=pref)
    box.get_by_label("機関名または団体コード（一部でも可）").fill(text)
    box.locator(".org-results p", has_text="2件").wait_for()
    box.locator(".org-results label", has_text=name).first.locator("input").check()
    assert name in box.locator(".org-chosen").inner_text()


def test_rows_and_organisations_in_the_page_with_javascript(live, browser, screenshots):
    suite = live.suite
    app_id = _application(suite)
    url = f"{live.url}/applicant/applications/{app_id}/forms/03-08"
    page = logged_in(browser, live, "demo-applicant")
    page.goto(url)
    page.evaluate("window.notReloaded = true")
    chain = page.locator(CHAIN)
    assert chain.locator(".wf-empty").is_visible()
    add = chain.get_by_role("button", name="行を追加")
    add.click()
    add.click()
    rows = chain.locator("tbody > tr.wf-row")
    assert rows.count() == 2 and page.evaluate("window.notReloaded") is True   # no round trip
    assert rows.nth(1).locator("input[name=_row]").get_attribute("value") == \
        "query_delegations[0].chain[1]"
    # the first row removed: the second becomes row 1, named as the server would name it
    rows.nth(0).get_by_role("button", name="削除").click()
    assert rows.count() == 1 and page.evaluate("window.notReloaded") is True
    row = rows.nth(0)
    assert row.get_attribute("id") == "r-query-delegations-0-chain-0"
    assert row.locator(".wf-no").inner_text() == "1"
    assert row.locator("#f-query-delegations-0-chain-0-article").get_attribute("name") == \
        "query_delegations[0].chain[0].article"
    _pick(page, "f-query-delegations-0-chain-0-from", "東京都", "八王子", "東京都八王子市")
    _pick(page, "f-query-delegations-0-chain-0-to", "東京都", CHIYODA, "東京都千代田区")
    row.locator("#f-query-delegations-0-chain-0-article").fill("地方自治法第252条の14")
    row.locator("#f-query-delegations-0-chain-0-rule-title").fill("事務の委託に関する規約")
    _fits(page)
    chain.screenshot(path=str(screenshots / "form_03_08_chain_picker_1366.png"))
    # leaving with the rows unsaved asks first
    asked = []
    page.once("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    page.get_by_role("link", name="保存せずに申請の画面へ戻る").click()
    assert asked == ["beforeunload"] and page.url == url
    page.locator("#save-form").click()
    page.wait_for_load_state()
    saved = suite.client.get(f"/api/intake/applications/{app_id}/forms/03-08",
                             headers=suite.headers("demo-applicant")).get_json()["data"]
    assert saved["query_delegations"][0]["chain"] == [
        {"from": HACHIOJI, "to": CHIYODA, "article": "地方自治法第252条の14",
         "rule_title": "事務の委託に関する規約"}]
    assert saved["query_delegations"][0]["delegators"] == [HACHIOJI]
    page.screenshot(path=str(screenshots / "form_03_08_saved_1366.png"), full_page=True)
    page.context.close()

    phone = logged_in(browser, live, "demo-applicant", PHONE)
    phone.goto(url)
    _fits(phone)
    phone.locator(CHAIN).get_by_role("button", name="行を追加").click()
    _pick(phone, "f-query-delegations-0-chain-1-from", "東京都", "八王子", "東京都八王子市")
    _fits(phone)
    assert _axe(phone, _axe_runner()) == []       # the added row and its open search too
    phone.locator(CHAIN).screenshot(path=str(screenshots / "form_03_08_chain_picker_375.png"))
    phone.screenshot(path=str(screenshots / "form_03_08_375.png"), full_page=True)
    phone.context.close()
