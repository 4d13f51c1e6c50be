"""The deadline pages in headless Chromium at a phone's width (375 px): the applicant's
dashboard with the current phase and its deadline, and the operator's 期限後の受付許可
page used without JavaScript."""
from __future__ import annotations

import datetime as dt

from services.intake.deadlines import japanese_date, today
from tests.conftest import wait_for
from tests.e2e.conftest import logged_in

PHONE = {"width": 375, "height": 740}


def _login(browser, live, login: str):
    return logged_in(browser, live, login, PHONE, javascript=False)


def _fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_deadline_pages_work_at_375px_without_javascript(live, browser, screenshots):
    s = live.suite
    ends = today() + dt.timedelta(days=7)
    res = s.client.put("/api/review/schedule", headers=s.headers("demo-operator"), json={
        "phases": [{"phase": "connection_request", "ends_on": ends.isoformat(),
                    "starts_on": (today() - dt.timedelta(days=7)).isoformat()}]})
    assert res.status_code == 200, res.get_json()
    wait_for(lambda: s.client.get("/api/intake/schedule", headers=s.headers("demo-applicant"))
             .get_json()["current"], what="schedule published to intake")

    applicant = _login(browser, live, "demo-applicant")
    applicant.goto(f"{live.url}/applicant/")
    assert applicant.locator("#current-phase-connection_request").inner_text() == (
        f"現在の工程: 接続申請（期限 {japanese_date(ends)}まで）")
    applicant.screenshot(path=str(screenshots / "deadlines_dashboard_375.png"), full_page=True)
    _fits(applicant)

    operator = _login(browser, live, "demo-operator")
    operator.goto(f"{live.url}/late-allowances")
    operator.select_option("#phase", "connection_request")
    operator.fill("#org", "131016")
    operator.fill("#reason", "システム更改のため")
    operator.get_by_role("button", name="許可する").click()
    operator.wait_for_load_state()
    assert "期限後の受付を許可しました" in operator.content()
    assert operator.get_by_role("cell", name="システム更改のため").is_visible()
    operator.screenshot(path=str(screenshots / "deadlines_allowances_375.png"), full_page=True)
    _fits(operator)
