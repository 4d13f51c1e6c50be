"""The print view in headless Chromium (the session's browser): the whole application
on one page, no navigation when printed, and no horizontal overflow at 375 px."""
from __future__ import annotations

from tests import factories
from tests.e2e.conftest import logged_in


def test_print_view_opens_from_the_application_page_and_prints_without_navigation(
        live, browser, screenshots):
    suite = live.suite
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    factories.put_forms(suite.client, h, app_id, {"02-01": factories.form_02_01()})
    number = suite.get_app(app_id)["number"]

    page = logged_in(browser, live, "demo-applicant")
    page.goto(f"{live.url}/applicant/applications/{app_id}")
    page.get_by_role("link", name="印刷用表示（A4）").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/intake/applications/{app_id}/print")
    assert number in page.locator("h1").inner_text()
    assert page.get_by_role("heading", name="申請前情報選択").is_visible()
    assert page.get_by_text("情報システム責任者", exact=False).first.is_visible()
    toolbar = page.get_by_role("navigation", name="印刷用表示の操作")
    assert toolbar.is_visible()
    page.screenshot(path=str(screenshots / "print_view.png"), full_page=True)

    page.emulate_media(media="print")
    assert not toolbar.is_visible()                 # no navigation on paper
    assert page.locator("thead").first.evaluate(
        "e => getComputedStyle(e).display") == "table-header-group"
    assert page.locator("#history tbody tr").first.evaluate(
        "e => getComputedStyle(e).breakInside") == "avoid"
    page.context.close()

    narrow = logged_in(browser, live, "demo-applicant", {"width": 375, "height": 740})
    narrow.goto(f"{live.url}/intake/applications/{app_id}/print")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    narrow.screenshot(path=str(screenshots / "print_view_375.png"), full_page=True)
    narrow.context.close()
