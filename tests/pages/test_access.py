"""Nothing an organisation may not see is reachable by changing a URL: every page route
that takes an application id answers 404 to another organisation (GET and POST), and
changes nothing; pages need a login, the right role, and a CSRF token."""
from __future__ import annotations

import pytest

from tests.conftest import Suite
from tests.pages.support import client_for, csrf_of, text_of
from tests.test_lifecycle_embedded import prepare_submitted


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("pages-access") / "var")
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    suite.add_user("other-applicant", "132012", "applicant")
    suite.add_user("other-forwarder", "132012", "forwarder")
    yield suite, app_id
    suite.close()


def _routes(app, prefix: str):
    """(rule, methods) of every page route with an application id under ``prefix``."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and "app_id" in rule.arguments:
            yield rule, sorted(rule.methods - {"HEAD", "OPTIONS"})


def _url(rule, app_id: int) -> str:
    values = {"app_id": app_id, "code": "02-01"}
    return (rule.rule.replace("<int:app_id>", str(app_id)).replace("<code>", values["code"])
            .replace("<int:no>", "1"))   # the first submission's receipt


def _visit_all(suite, client, prefix: str, app_id: int) -> dict[str, int]:
    token = csrf_of(text_of(client.get("/auth/account")))
    seen = {}
    for rule, methods in _routes(suite.app, prefix):
        url = _url(rule, app_id)
        for method in methods:
            if method == "GET":
                res = client.get(url)
            else:
                res = client.post(url, data={"csrf_token": token, "result": "承認",
                                             "kind": "connection", "data": "{}"})
            seen[f"{method} {url}"] = res.status_code
    return seen


def test_another_organisations_application_is_404_on_every_applicant_page(flow):
    suite, app_id = flow
    before = suite.get_app(app_id)
    seen = _visit_all(suite, client_for(suite, "other-applicant"), "/applicant/", app_id)
    assert len(seen) >= 8
    assert set(seen.values()) == {404}, seen
    after = suite.get_app(app_id)
    assert after["status"] == before["status"] and after["history"] == before["history"]


def test_the_owner_reaches_the_same_pages(flow):
    suite, app_id = flow
    client = client_for(suite, "demo-applicant")
    for rule, methods in _routes(suite.app, "/applicant/"):
        if "GET" in methods:
            assert client.get(_url(rule, app_id)).status_code == 200, rule.rule


@pytest.mark.parametrize("login", ["demo-jlis", "other-forwarder", "demo-forwarder"])
def test_a_reviewer_the_application_was_not_routed_to_gets_404(flow, login):
    suite, app_id = flow
    seen = _visit_all(suite, client_for(suite, login), "/review/", app_id)
    assert seen and set(seen.values()) == {404}, seen
    assert suite.get_app(app_id)["status"] == "primary_review"


def test_matching_results_of_another_organisation_are_404(flow):
    suite, app_id = flow
    other = client_for(suite, "other-applicant")
    assert other.get(f"/matching/applications/{app_id}").status_code == 404
    assert client_for(suite, "demo-jlis").get(
        f"/matching/applications/{app_id}").status_code == 404


def test_pages_of_other_roles_are_403_and_anonymous_visitors_go_to_login(flow):
    suite, app_id = flow
    applicant = client_for(suite, "demo-applicant")
    for url in ("/review/", f"/review/applications/{app_id}", "/review/progress", "/master/",
                "/matching/graph", "/refdata"):
        assert applicant.get(url).status_code == 403, url
    anonymous = suite.app.test_client()
    res = anonymous.get(f"/applicant/applications/{app_id}")
    assert res.status_code == 302 and res.headers["Location"].startswith("/auth/login?next=")


def test_a_page_form_without_csrf_token_is_refused(flow):
    suite, app_id = flow
    client = client_for(suite, "demo-applicant")
    res = client.post("/applicant/applications", data={"kind": "connection"})
    assert res.status_code == 400
    page = client.get("/applicant/").get_data(as_text=True)
    assert page.count("/applicant/applications/") == page.count(f"/applicant/applications/{app_id}")


def test_pages_and_messages_share_one_status_vocabulary(idle_suite):
    """A withdrawn application is 取下げ on every page and in every message."""
    from flask import render_template_string

    from shared.vocabulary import STATUS, STATUS_LABELS, status_name

    with idle_suite.app.test_request_context("/"):
        shown = render_template_string(
            '{% import "_nws.html" as nws %}{{ nws.STATUS["withdrawn"] }}|{{ nws.status("returned") }}')
    assert shown.startswith("取下げ|") and "差戻し" in shown
    assert status_name("withdrawn") == "取下げ" and STATUS.items() <= STATUS_LABELS.items()
