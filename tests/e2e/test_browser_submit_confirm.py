"""Confirm, then act, in headless Chromium without JavaScript: the applicant goes from
the application page through the 確認画面 to the receipt (受付完了), which prints without
the site's header and buttons; the prefecture's 承認 asks on its own page first; the
withdrawal page. Screenshots at 1366 px and 375 px under test-artifacts/screenshots/."""
from __future__ import annotations

import re

from tests import factories
from tests.conftest import wait_for
from tests.e2e.conftest import VIEWPORT, logged_in

PHONE = {"width": 375, "height": 740}


def _shot(page, screenshots, name: str, width: int) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    # usable at this width: the page itself never scrolls sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= width, name


def test_submit_through_the_confirm_page_to_the_receipt(live, browser, screenshots):
    s = live.suite
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    forms = factories.attach_evidence(s.client, h, app_id, factories.all_forms())
    factories.put_forms(s.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id)["forms"].values()),
             what="forms validated")
    page_url = f"{live.url}/applicant/applications/{app_id}"

    wide = logged_in(browser, live, "demo-applicant", VIEWPORT, javascript=False)
    narrow = logged_in(browser, live, "demo-applicant", PHONE, javascript=False)
    narrow.goto(f"{page_url}/submit")
    assert narrow.get_by_role("heading", name="提出内容の確認").is_visible()
    _shot(narrow, screenshots, "confirm_01_submit_confirm_375", PHONE["width"])

    wide.goto(page_url)
    wide.click("#submit")
    assert wide.get_by_role("heading", name="提出内容の確認").is_visible()
    assert "事務の委託に関する規約.pdf" in wide.locator("#confirm-attachments").inner_text()
    assert re.search(r"\d (KB|バイト)", wide.locator("#confirm-attachments").inner_text())
    assert s.get_app(app_id)["status"] == "draft"
    _shot(wide, screenshots, "confirm_01_submit_confirm_1366", VIEWPORT["width"])
    wide.click("#confirm-submit")
    wide.wait_for_load_state()
    assert wide.locator("#receipt-h").inner_text() == "受付完了"
    number = s.get_app(app_id)["number"]
    assert wide.locator("#receipt-number").inner_text() == number
    assert re.search(r"\d\d時\d\d分\d\d秒（日本時間）$", wide.locator("#receipt-at").inner_text())
    _shot(wide, screenshots, "confirm_02_receipt_1366", VIEWPORT["width"])
    receipt_url = wide.url
    wide.emulate_media(media="print")
    assert not wide.locator("header.site").is_visible()
    assert not wide.locator("#back").is_visible()
    assert wide.locator("#receipt-number").is_visible()
    wide.screenshot(path=str(screenshots / "confirm_02_receipt_print.png"), full_page=True)
    wide.emulate_media(media="screen")

    s.wait_status(app_id, "primary_review")
    narrow.goto(page_url)
    narrow.get_by_role("link", name=re.compile("受付票 1")).click()
    assert narrow.url == receipt_url
    assert "受付済" in narrow.locator("#receipt-outcome").inner_text()
    _shot(narrow, screenshots, "confirm_02_receipt_375", PHONE["width"])
    narrow.goto(page_url)
    narrow.click("#withdraw")
    assert narrow.get_by_role("heading", name="申請の取下げ").is_visible()
    _shot(narrow, screenshots, "confirm_03_withdraw_375", PHONE["width"])

    # --- the prefecture: 承認 asks first -----------------------------------------------
    for viewport, name in ((PHONE, "375"), (VIEWPORT, "1366")):
        pref = logged_in(browser, live, "demo-pref", viewport, javascript=False)
        pref.goto(f"{live.url}/review/applications/{app_id}")
        pref.check("#result-ok")
        pref.fill("#comment", "内容を確認しました。")
        pref.click("#decide")
        assert pref.get_by_role("heading", name="判定の確認").is_visible()
        assert s.get_app(app_id)["status"] == "primary_review"
        _shot(pref, screenshots, f"confirm_04_decision_confirm_{name}", viewport["width"])
        if name == "1366":
            pref.click("#confirm-decision")
            assert pref.get_by_text("申請を承認しました。").is_visible()
        pref.context.close()
    s.wait_status(app_id, "secondary_review")
    for page in (wide, narrow):
        page.context.close()
