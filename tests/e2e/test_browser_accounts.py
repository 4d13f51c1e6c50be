"""An operator creates a 経由 account for a municipality on the account pages and
disables it after the confirmation page, in headless Chromium without JavaScript, at
1366 px and at a phone's 375 px (nothing wider than the screen); screenshots of both."""
from __future__ import annotations

from tests.conftest import wait_for
from tests.e2e.conftest import logged_in

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 740}


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def _names_at_identity(s) -> bool:
    from services.identity import organisations

    with s.ctx("identity").transaction() as session:
        return bool(organisations.names_of(session, ["112011"]))


def test_operator_creates_an_account_and_disables_it(live, browser, screenshots):
    s = live.suite
    wait_for(lambda: _names_at_identity(s), what="organisation names at identity")
    for viewport, tag, login in ((WIDE, "1366", "kawagoe-keiyu"),
                                 (PHONE, "375", "kawagoe-keiyu-2")):
        page = logged_in(browser, live, "demo-operator", viewport, javascript=False)
        page.goto(f"{live.url}/auth/accounts/")
        page.screenshot(path=str(screenshots / f"accounts_list_{tag}.png"), full_page=True)
        _fits(page, viewport["width"])
        page.get_by_role("link", name="アカウントを作成する").click()
        page.fill("#login", login)
        page.fill("#org", "112011")
        page.select_option("#role", "forwarder")
        page.fill("#name", "経由 三郎")
        page.fill("#department", "川越市 情報政策課")
        page.fill("#password", "saitama-river-passphrase-26")
        page.fill("#password_confirm", "saitama-river-passphrase-26")
        page.screenshot(path=str(screenshots / f"accounts_new_{tag}.png"), full_page=True)
        _fits(page, viewport["width"])
        page.get_by_role("button", name="作成する").click()
        page.wait_for_load_state()
        assert f"アカウント {login} を作成しました" in page.content()
        assert page.locator("#account-role").inner_text() == "経由機関"
        assert "埼玉県川越市（112011）" in page.content() or "川越市（112011）" in page.content()
        page.screenshot(path=str(screenshots / f"accounts_show_{tag}.png"), full_page=True)
        _fits(page, viewport["width"])

        page.locator("#disable").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="アカウントを無効にしますか").is_visible()
        page.screenshot(path=str(screenshots / f"accounts_confirm_{tag}.png"), full_page=True)
        _fits(page, viewport["width"])
        page.locator("#confirm").click()
        page.wait_for_load_state()
        assert f"{login} を無効にしました" in page.content()
        assert page.locator("#account-state").inner_text() == "無効"
        assert "アカウントの無効化" in page.locator("#account-history").inner_text()
        page.screenshot(path=str(screenshots / f"accounts_disabled_{tag}.png"), full_page=True)
        _fits(page, viewport["width"])
        page.context.close()
    res = s.client.post("/api/auth/token", json={"login": "kawagoe-keiyu",
                                                 "password": "saitama-river-passphrase-26"})
    assert res.status_code != 200


def test_the_request_and_confirmation_lists_fit_both_widths(live, browser, screenshots):
    from services.matching import matcher

    s = live.suite
    for n, org in enumerate(("012025", "131016")):
        res = s.client.post("/api/intake/account-requests", environ_base={
            "REMOTE_ADDR": f"198.51.100.{n + 1}"}, json={
            "org": org, "login": f"list-shot-{n}",
            "requester": {"department": "情報政策課", "name": "一覧 確認",
                          "email": "a@example.lg.jp", "phone": "03-0000-0000"}})
        assert res.status_code == 201, res.get_json()
    with s.ctx("matching").transaction() as session:
        matcher.store_records(session, {
            "application_id": 9001, "round": 1, "org_id": "U131000001", "number": "R2026-009001",
            "org_name": "例 千代田区ほか事務組合（例示）",
            "query_delegations": [{"item_no": "9", "affair": "児童手当の支給に関する事務",
                                   "procedure": "委託", "delegators": ["131016"],
                                   "basis": {"article": "地方自治法第252条の14",
                                             "rule_title": "事務の委託に関する規約"},
                                   "delegator_confirmed": True, "chain": []}],
            "provision_delegations": [], "provision_acceptances": []})
    for viewport, tag in ((WIDE, "1366"), (PHONE, "375")):
        operator = logged_in(browser, live, "demo-operator", viewport, javascript=False)
        operator.goto(f"{live.url}/account-requests")
        assert "list-shot-1" in operator.content()
        operator.screenshot(path=str(screenshots / f"account_requests_{tag}.png"), full_page=True)
        _fits(operator, viewport["width"])
        operator.context.close()
        applicant = logged_in(browser, live, "demo-applicant", viewport, javascript=False)
        applicant.goto(f"{live.url}/matching/confirmations")
        assert "R2026-009001" in applicant.content()
        applicant.locator("summary").first.click()
        applicant.screenshot(path=str(screenshots / f"confirmations_{tag}.png"), full_page=True)
        _fits(applicant, viewport["width"])
        applicant.context.close()
