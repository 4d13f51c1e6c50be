"""The notification pages in headless Chromium at 375 px: usable without scrolling
sideways, the unread count readable as text in the header, marking read without
JavaScript."""
from __future__ import annotations

from tests import factories
from tests.conftest import wait_for
from tests.review.support import CHIYODA, decide, submit

PHONE = {"width": 375, "height": 740}


def test_the_inbox_and_settings_fit_a_phone_and_work_without_javascript(live, browser):
    suite = live.suite
    app_id = submit(suite, CHIYODA)
    assert decide(suite, "demo-pref", app_id, "否認",
                  "様02-01 の情報システム責任者の役職名が空欄です。長い理由でも折り返して表示されること。").status_code == 201
    wait_for(lambda: suite.client.get("/api/auth/notifications",
                                      headers=suite.headers("demo-applicant")).get_json()["unread"],
             what="the notice")
    context = browser.new_context(viewport=PHONE, locale="ja-JP", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live.url}/auth/login?next=/auth/notifications")
    page.fill("#login", "demo-applicant")
    page.fill("#password", factories.DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()
    assert page.url.endswith("/auth/notifications")
    link = page.get_by_role("link", name="お知らせ（未読 1 件）")
    assert link.is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    page.get_by_role("button", name="すべて既読にする").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="お知らせ（未読 0 件）").is_visible()
    page.goto(f"{live.url}/auth/notifications/settings")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.get_by_label("差戻し（否認）").is_checked()
    context.close()
