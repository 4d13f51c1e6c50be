"""Every page of every role, crawled in headless Chromium and checked for accessibility.

One test per role logs in, follows the site's own links breadth-first from the role's
home (same origin, GET only, no downloads, no logout), adds the pages that need data
(an application, a review case, a form, the selection page, a master version, the
operator's pages), and on each page checks:

- axe-core (the copy bundled by ``axe-playwright-python``) with the WCAG 2.0 A/AA and
  2.1 AA rules finds nothing;
- at 375 px nothing is wider than the screen;
- the first focusable element is a skip link to ``#main``, and a focused link or button
  shows a visible focus indicator;
- the visible text carries no developer words (JSON, field names, event codes, English
  role names, Python literals) and the page does not reload itself
  (``<meta http-equiv=refresh>``).

Screenshots at 1366 px and 375 px go to test-artifacts/screenshots/<role>/.
"""
from __future__ import annotations

import re
from collections import deque
from urllib.parse import urldefrag, urlsplit

import pytest

from tests import factories
from tests.conftest import wait_for
from tests.e2e.conftest import VIEWPORT, _missing, logged_in
from tests.form_data import form_03_08, put_selection_for, query_delegation

PHONE = {"width": 375, "height": 740}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MAX_PAGES = 60           # per role: a runaway crawl fails instead of taking minutes
MAX_PER_PATH = 2         # query-string variants of one path (sort orders, filters, pages)

# Links never followed: downloads (files, not pages) and anything with a side effect.
SKIP_LINK = re.compile(r"(\.xlsx|\.zip|\.csv|\.json|\.pdf|/export\.|/attachments/|/logout"
                       r"|/static/|/api/)", re.I)

# Pages that answer 404 with a page of their own on purpose: matching's page for an
# application whose delegation records have not arrived (yet) tells its owner so.
INTENDED_404 = re.compile(r"/matching/applications/\d+")
# Pages asked for in an error state on purpose (the errors' markup is checked too).
ERROR_STATES = {"/intake/audit?to=31/12/2026": 422}

# Words of the code, not of the product: none may appear in a page's visible text.
# Matched as whole ASCII words (so 「status」 inside a longer identifier is still caught,
# but Japanese text around it never matters).
DEVELOPER_WORDS = (
    "org_id", "upload_received", "rule_title", "article", "query_affairs",
    "provided_info", ".schema", "None", "True", "False", "null", "undefined",
    "applicant", "forwarder", "operator", "reviewer", "primary_reviewer",
    "secondary_reviewer", "status", "draft", "submitted", "primary_review",
    "secondary_review", "registered", "returned", "withdrawn", "forwarding",
    "connection", "change", "Traceback", "NaN", "JSON", "primary", "secondary",
    "snapshot", "diff", "immediate", "batched",
)
DEVELOPER_PATTERNS = (
    re.compile(r'\{\s*"'),                                   # JSON object
    re.compile(r"\[\d+\]"),                                  # a field path's index
    re.compile(r"\b(application|review|matching|master|form|account|catalog|"
               r"notification|upload|attachment)\.[a-z_]+\b"),   # event codes
    re.compile(r"\b[a-z]+_[a-z_]+\b"),                       # snake_case identifiers
    re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d"),                  # ISO time (UTC): show JST
) + tuple(re.compile(rf"(?<![\w.-]){re.escape(w)}(?![\w-])") for w in DEVELOPER_WORDS)

# Pages whose violations could not be fixed yet: {(role, path regex): {rule id: reason}}.
# A temporary measure, listed in the report; everything else on these pages is asserted.
# Keys are axe rule ids, or "developer-word:<word>" for one word of DEVELOPER_WORDS.
KNOWN_VIOLATIONS: dict[tuple[str, str], dict[str, str]] = {}


def _known(role: str, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for (r, pattern), rules in KNOWN_VIOLATIONS.items():
        if r in (role, "*") and re.fullmatch(pattern, path):
            out.update(rules)
    return out


# --- data every page needs -------------------------------------------------------------

def _register(s, login: str, org: str, forms: dict, *, via_forwarder: bool = False,
              attach: bool = False) -> int:
    h = s.headers(login)
    app_id = factories.create_application(s.client, h)
    if attach:
        forms = factories.attach_evidence(s.client, h, app_id, forms)
    if forms.get("03-08", {}).get("query_delegations"):
        put_selection_for(s.client, h, app_id, forms["03-08"])
    factories.put_forms(s.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(app_id, login)["forms"]
                         .values()), what="forms validated", timeout=30)
    res = s.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    if via_forwarder:
        s.wait_status(app_id, "forwarding", login)
        _decide(s, "demo-forwarder", app_id)
    s.wait_status(app_id, "primary_review", login)
    _decide(s, "demo-pref", app_id, "承認", "内容を確認しました。")
    s.wait_status(app_id, "secondary_review", login)
    _decide(s, "demo-mic", app_id, "承認", "確認しました。", acknowledge=True)
    s.wait_status(app_id, "registered", login, timeout=60)
    return app_id


def _decide(s, login: str, app_id: int, result: str = "承認", comment: str = "",
            acknowledge: bool = False) -> None:
    body = {"result": result, "comment": comment}
    res = s.client.post(f"/api/review/applications/{app_id}/decisions", json=body,
                        headers=s.headers(login))
    if res.status_code == 409 and acknowledge:
        res = s.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={**body, "acknowledge_matching": True},
                            headers=s.headers(login))
    assert res.status_code == 201, res.get_json()


@pytest.fixture(scope="module")
def seeded(live):
    """Two registered applications (two master versions, one with a delegation and its
    attachment, passed on by the 首長部局), an open change application of 千代田区 on the
    prefecture's desk, 東京都's application on J-LIS's desk, a master subscriber, and a
    draft change application of 千代田区教育委員会."""
    s = live.suite
    boe_forms = factories.all_forms("131016-BOE")
    boe_forms["03-08"] = form_03_08("131016-BOE", query_delegations=[query_delegation()])
    boe = _register(s, "demo-boe", "131016-BOE", boe_forms, via_forwarder=True, attach=True)
    chiyoda = _register(s, "demo-applicant", "131016", factories.all_forms("131016"))

    h = s.headers("demo-applicant")
    change = factories.create_application(s.client, h, "change")
    factories.put_forms(s.client, h, change, {"02-01": factories.form_02_01(
        "131016", request_type="変更申請")})
    wait_for(lambda: s.get_app(change)["forms"]["02-01"]["status"] != "validating",
             what="change form validated")
    res = s.client.post(f"/api/intake/applications/{change}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    s.wait_status(change, "primary_review")

    # a 都道府県知事部局's application on J-LIS's desk
    s.add_user("axe-tokyo", "130001", "applicant", "東京 申請")
    ht = s.headers("axe-tokyo")
    tokyo = factories.create_application(s.client, ht)
    forms = factories.all_forms("130001")
    chosen = s.client.get(f"/api/intake/applications/{tokyo}/selection", headers=ht
                          ).get_json()["effective"]
    affair, info = chosen["query_affairs"][0], chosen["provided_info"][0]
    forms["03-07"]["query_affairs"][0].update(item_no=affair["item_no"],
                                              affair=affair["affair"])
    forms["03-07"]["provided_info"][0].update(info_no=info["info_no"],
                                              info_name=info["info_name"])
    factories.put_forms(s.client, ht, tokyo, forms)
    wait_for(lambda: all(f["status"] == "valid" for f in s.get_app(tokyo, "axe-tokyo")
                         ["forms"].values()), what="Tokyo's forms validated", timeout=30)
    res = s.client.post(f"/api/intake/applications/{tokyo}/submit", headers=ht)
    assert res.status_code == 202, res.get_json()
    s.wait_status(tokyo, "primary_review", "axe-tokyo")

    # a subscriber of the master (its deliveries fail: the address is an example)
    from services.master import distribution

    ctx = s.ctx("master")
    with ctx.transaction() as session:
        sub = distribution.subscribe(ctx, session, "https://subscriber.example.jp/nws",
                                     "snapshot", "demo-operator").id

    hb = s.headers("demo-boe")
    draft = factories.create_application(s.client, hb, "change")
    factories.put_forms(s.client, hb, draft, {"02-01": factories.form_02_01(
        "131016-BOE", request_type="変更申請")})
    return {"boe": boe, "chiyoda": chiyoda, "change": change, "draft": draft,
            "tokyo": tokyo, "subscriber": sub}


def _extra_pages(role: str, ids: dict) -> list[str]:
    """Pages that need data and may not be linked from the role's home."""
    boe, chiyoda, change, draft = ids["boe"], ids["chiyoda"], ids["change"], ids["draft"]
    reviewer = [f"/review/applications/{boe}", f"/review/applications/{chiyoda}",
                f"/intake/applications/{boe}/print"]
    overseer = [*reviewer, f"/matching/applications/{boe}"]
    return {
        "anonymous": ["/auth/login", "/account-requests/new", "/account-requests/receipt"],
        "applicant": [f"/applicant/applications/{draft}",
                      f"/applicant/applications/{draft}/selection",
                      f"/applicant/applications/{draft}/forms/02-01",
                      f"/applicant/applications/{draft}/forms/03-08",
                      f"/applicant/applications/{boe}", f"/intake/applications/{boe}/print",
                      "/matching/confirmations", "/auth/account", "/auth/notifications",
                      "/auth/notifications/settings"],
        "forwarder": [f"/review/applications/{boe}", "/matching/confirmations",
                      "/auth/notifications/settings"],
        "prefecture": [*reviewer, f"/review/applications/{change}"],   # on its desk
        "jlis": ["/review/", f"/review/applications/{ids['tokyo']}",
                 f"/intake/applications/{ids['tokyo']}/print", "/auth/account"],
        "mic": [*overseer, "/review/progress", "/auth/account",
                "/matching/graph?org=131016-BOE", "/master/", "/master/versions/1",
                "/master/versions/2", "/master/versions/2/diff?from=1"],
        "operator": [*overseer, "/refdata", "/auth/account",
                     f"/master/subscribers/{ids['subscriber']}", "/late-allowances", "/master/",
                     "/master/versions/2", "/master/versions/2/diff?from=1",
                     "/review/progress", "/matching/graph?org=131016-BOE",
                     "/intake/audit", *ERROR_STATES, "/review/audit", "/matching/audit",
                     "/master/audit",
                     "/auth/audit"],
    }[role]


ROLES = {
    "anonymous": None,
    "applicant": "demo-boe",
    "forwarder": "demo-forwarder",
    "prefecture": "demo-pref",
    "jlis": "demo-jlis",
    "mic": "demo-mic",
    "operator": "demo-operator",
}


# --- the checks on one page -------------------------------------------------------------

_LINKS_JS = "() => Array.from(document.querySelectorAll('a[href]'), a => a.href)"

_FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea"
_FOCUS_JS = """() => {
  const focusable = 'FOCUSABLE';
  const first = document.querySelector(focusable);
  const skip = first && first.matches('a[href="#main"]') && document.getElementById('main');
  const inMain = focusable.split(', ').map(s => 'main ' + s).join(', ');
  const target = document.querySelector(inMain) || first;
  if (!target) return {skip: !!skip, focus: 'nothing to focus'};
  target.focus();
  const cs = getComputedStyle(target);
  const visible = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0)
                  || (cs.boxShadow && cs.boxShadow !== 'none');
  target.blur();
  return {skip: !!skip, focus: visible ? '' : (target.outerHTML.slice(0, 120))};
}""".replace("FOCUSABLE", _FOCUSABLE)


def _visible_text(page) -> str:
    """The page's visible text, less the names of download links (a file format such as
    「JSON」 is what the file is, not a developer word)."""
    text, downloads = page.evaluate("""() => [document.body.innerText,
        Array.from(document.querySelectorAll('a[download]'), a => a.innerText)]""")
    for name in downloads:
        text = text.replace(name, "")
    return text


FILE_NAME = re.compile(r"[\w.-]+\.(csv|xlsx|xml|pdf|zip|json)\b", re.I)


def _developer_words(text: str) -> list[str]:
    text = FILE_NAME.sub("", text)      # file names (reference data, attachments) are data
    found = []
    for pattern in DEVELOPER_PATTERNS:
        m = pattern.search(text)
        if m:
            start = max(m.start() - 20, 0)
            found.append(f"{m.group(0)!r} in …{text[start:m.end() + 20]!r}…")
    return found


def _axe(page, axe) -> list[dict]:
    result = axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                    "resultTypes": ["violations"]})
    # axe really ran (a page where it could not would report nothing at all)
    assert result.response["passes"], f"axe checked nothing on {page.url}"
    return result.response["violations"]


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "home"


def _same_site(url: str, origin: str) -> str | None:
    url = urldefrag(url)[0]
    if not url.startswith(origin + "/") or SKIP_LINK.search(urlsplit(url).path):
        return None
    return url[len(origin):]


def _check_page(page, axe, role: str, path: str, shots) -> tuple[list[str], list[str]]:
    """Problems on the page now loaded; the same-site links it offers."""
    problems: list[str] = []
    known = _known(role, urlsplit(path).path)
    for v in _axe(page, axe):
        if v["id"] in known:
            continue
        targets = ", ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:5])
        problems.append(f"axe {v['id']}: {v['help']} → {targets}")
    if page.locator('meta[http-equiv="refresh" i]').count():
        problems.append("<meta http-equiv=refresh> (use an aria-live region and a link)")
    focus = page.evaluate(_FOCUS_JS)
    if not focus["skip"]:
        problems.append("the first focusable element is not a skip link to #main")
    if focus["focus"]:
        problems.append(f"no visible focus indicator on {focus['focus']}")
    problems += [f"developer word {w}" for w in _developer_words(_visible_text(page))
                 if f"developer-word:{w.split()[0].strip(chr(39))}" not in known]
    page.screenshot(path=str(shots / f"{_slug(path)}_1366.png"), full_page=True)
    page.set_viewport_size(PHONE)
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if wide[0] > wide[1]:
        problems.append(f"wider than 375 px: scrollWidth {wide[0]} > {wide[1]}")
    page.screenshot(path=str(shots / f"{_slug(path)}_375.png"), full_page=True)
    page.set_viewport_size(VIEWPORT)
    links = page.evaluate(_LINKS_JS)
    return problems, links


def _axe_runner():
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _missing("axe-playwright-python is not installed (pip install -e '.[test]')")
    return Axe()


def _crawl(browser, live, role: str, login: str | None, extra: list[str], shots) -> dict:
    axe = _axe_runner()
    if login is None:
        context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
        page = context.new_page()
        page.goto(f"{live.url}/auth/login")
    else:
        page = logged_in(browser, live, login)
    origin = live.url
    home = _same_site(page.url, origin) or "/"
    queue: deque[str] = deque([home, *extra])
    seen: set[str] = set()
    per_path: dict[str, int] = {}
    report: dict[str, list[str]] = {}
    found_on: dict[str, str] = {}
    try:
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            if path in seen:
                continue
            bare = urlsplit(path).path
            if per_path.get(bare, 0) >= MAX_PER_PATH:
                continue
            seen.add(path)
            per_path[bare] = per_path.get(bare, 0) + 1
            response = page.goto(origin + path)
            if response is None or "text/html" not in response.headers.get("content-type", ""):
                continue
            landed = _same_site(page.url, origin)
            where = f" (linked from {found_on[path]})" if path in found_on else ""
            if landed and landed != path and landed.startswith("/auth/login") and login:
                report[path] = [f"sent back to the login page{where}"]
                continue
            # A page that answers 404 on purpose (matching's 「まだ届いていません」) is
            # still a page to check; any other error is a broken link.
            problems = [f"HTTP {response.status}{where}"] if response.status >= 400 and not (
                response.status == 404 and INTENDED_404.fullmatch(urlsplit(path).path)
                or ERROR_STATES.get(path) == response.status) else []
            more, links = _check_page(page, axe, role, path, shots)
            problems += more
            if problems:
                report[path] = problems
            for link in links:
                target = _same_site(link, origin)
                if target and target not in seen:
                    found_on.setdefault(target, path)
                    queue.append(target)
    finally:
        page.context.close()
    assert len(seen) < MAX_PAGES or not queue, f"crawl of {role} did not finish: {list(queue)}"
    return {"visited": sorted(seen), "problems": report}


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_of_the_role_is_accessible(role, live, browser, screenshots, seeded):
    shots = screenshots / role
    shots.mkdir(parents=True, exist_ok=True)
    result = _crawl(browser, live, role, ROLES[role], _extra_pages(role, seeded), shots)
    (shots / "visited.txt").write_text("\n".join(result["visited"]) + "\n", encoding="utf-8")
    assert len(result["visited"]) >= 3, result["visited"]
    problems = "\n".join(f"{path}:\n  " + "\n  ".join(p) for path, p in
                         result["problems"].items())
    assert not result["problems"], f"{role}: accessibility problems\n{problems}"


def test_the_checks_find_what_they_look_for(browser, screenshots):
    """The crawl's checks are not vacuous: a page with each fault is reported for each."""
    shots = screenshots / "self-check"
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT, locale="ja-JP")
    page = context.new_page()
    page.set_content("""<!doctype html><html lang="ja"><head><title>悪い例</title>
      <meta http-equiv="refresh" content="600"></head><body>
      <a href="/x" class="plain">リンク</a><main id="main"><h1>悪い例</h1>
      <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
      <p>{"org_id": "131016", "status": "draft"} application.submitted None</p>
      <div class="wide">広い</div></main>
      <style>.plain:focus { outline: none; } .wide { width: 900px; }</style></body></html>""")
    try:
        problems, _links = _check_page(page, _axe_runner(), "self-check", "/bad", shots)
    finally:
        context.close()
    text = "\n".join(problems)
    assert "axe image-alt" in text
    assert "meta http-equiv=refresh" in text
    assert "not a skip link" in text
    assert "no visible focus indicator" in text
    for word in ('{"', "org_id", "status", "draft", "application.submitted", "None"):
        assert f"developer word {word!r}" in text, word
    assert "wider than 375 px" in text
