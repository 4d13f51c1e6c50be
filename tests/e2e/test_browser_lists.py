"""The paged lists on a phone (375 px), in headless Chromium without JavaScript: the
table is a stack of cards whose column headers (the sort links) are off the screen, so
each list sorts with the 並べ替え control of its filter form, keeping the search and the
filters; nothing is wider than the screen. Screenshots of each list before and after."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import logged_in
from tests.review import support
from tests.review.support import CHIYODA, OSAKA_CITY

PHONE = {"width": 375, "height": 740}

# (who, list path with a filter or search, the filter kept, the column to sort by)
LISTS = [
    ("demo-operator", "/review/?kind=connection", ("kind", "connection"), "org"),
    ("demo-pref", "/review/?scope=all", ("scope", "all"), "number"),
    ("demo-operator", "/account-requests?q=phone-req", ("q", "phone-req"), "login"),
    ("demo-applicant", "/matching/confirmations?status=all", ("status", "all"), "number"),
    ("demo-operator", "/auth/accounts/?role=primary_reviewer", ("role", "primary_reviewer"),
     "login"),
]


@pytest.fixture(scope="module")
def filled(live):
    s = live.suite
    for org in (CHIYODA, OSAKA_CITY, CHIYODA):
        support.submit(s, org)
    for n in range(2):
        res = s.client.post("/api/intake/account-requests",
                            environ_base={"REMOTE_ADDR": f"192.0.2.{n + 40}"}, json={
                                "org": "131016", "login": f"phone-req-{n}",
                                "requester": {"department": "情報政策課", "name": f"申請 {n}",
                                              "email": "a@example.lg.jp",
                                              "phone": "03-0000-0000"}})
        assert res.status_code == 201, res.get_json()
    return live


@pytest.mark.parametrize("login,path,kept,column", LISTS)
def test_a_list_sorts_on_a_phone_from_its_filter_form(filled, browser, screenshots, login,
                                                      path, kept, column):
    live = filled
    page = logged_in(browser, live, login, PHONE, javascript=False)
    page.goto(live.url + path)
    name = path.strip("/").split("?")[0].replace("/", "_") or "review"
    tag = f"{login}_{name}"
    page.screenshot(path=str(screenshots / f"list_{tag}_375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # the sort headers are off the screen in card view; the control is on it
    header = page.locator("table.stack thead").first.bounding_box()
    assert header is None or header["x"] + header["width"] <= 0
    control = page.locator("fieldset.sort-control")
    assert control.is_visible() and control.bounding_box()["width"] <= PHONE["width"]
    page.select_option("#f-sort", column)
    page.select_option("#f-order", "desc")
    page.locator("#sort-submit").click()
    page.wait_for_load_state()
    query = parse_qs(urlsplit(page.url).query)
    assert query["sort"] == [column] and query["order"] == ["desc"]
    assert query[kept[0]] == [kept[1]]
    assert page.locator("#f-sort").input_value() == column
    assert page.locator("#f-order").input_value() == "desc"
    page.screenshot(path=str(screenshots / f"list_{tag}_sorted_375.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.context.close()
