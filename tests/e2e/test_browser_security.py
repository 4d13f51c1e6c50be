"""The pages under their Content-Security-Policy in headless Chromium: the browser
refuses nothing (no inline script or style is left to refuse) and the style sheet from
/static/ is applied."""
from __future__ import annotations

from tests import factories
from tests.e2e.conftest import VIEWPORT

PAGES = {"demo-operator": ["/", "/master/", "/review/", "/review/progress", "/matching/graph",
                           "/refdata", "/auth/account", "/intake/audit", "/auth/audit"],
         "demo-applicant": ["/applicant/"]}


def test_pages_load_under_their_policy_with_nothing_refused(live, browser):
    for login, paths in PAGES.items():
        context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
        page = context.new_page()
        messages: list[str] = []
        page.on("console", lambda msg: messages.append(msg.text))
        page.goto(f"{live.url}/auth/login?next=/")
        page.fill("#login", login)
        page.fill("#password", factories.DEMO_PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        page.wait_for_load_state()
        for path in paths:
            res = page.goto(f"{live.url}{path}")
            assert res.status == 200, path
            assert "frame-ancestors 'none'" in res.headers["content-security-policy"]
            # /static/nws.css is applied: the header's colour and a utility class.
            assert page.evaluate(
                "getComputedStyle(document.querySelector('header.site')).backgroundColor"
            ) == "rgb(18, 53, 91)", path
            assert page.evaluate(
                "getComputedStyle(document.querySelector('form.inline')).display") == "inline"
        refused = [m for m in messages if "Content Security Policy" in m or "Refused" in m]
        assert refused == [], refused
        context.close()
