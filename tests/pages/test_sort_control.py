"""Every paged list with sort headers sorts from its filter form too: on a phone (below
40rem) the table is a stack of cards whose headers are hidden, so the 並べ替え control
(nws.sort_control: a column, an order, a button) is what sorts there. Submitted as a
browser without JavaScript submits the form, it keeps the search and the filters."""
from __future__ import annotations

import re

import pytest

from services.identity import admin
from services.intake import account_requests
from services.review import queue as review_queue
from tests.conftest import Suite
from tests.pages.support import client_for, filter_form, text_of
from tests.review import support
from tests.review.support import CHIYODA, OSAKA_CITY, UNION


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("sort-control") / "var",
              env={"NWS_ACCOUNT_REQUEST_LIMIT_ADDRESS": "100/hour",
                   "NWS_ACCOUNT_REQUEST_LIMIT_ORG": "100/day"})
    for org in (CHIYODA, OSAKA_CITY, UNION, CHIYODA):
        support.submit(s, org)
    for n, org in enumerate(("131016", "012025", "271004")):
        res = s.client.post("/api/intake/account-requests",
                            environ_base={"REMOTE_ADDR": f"192.0.2.{n + 10}"}, json={
                                "org": org, "login": f"sort-req-{n}",
                                "requester": {"department": "情報政策課", "name": f"申請 {n}",
                                              "email": "a@example.lg.jp",
                                              "phone": "03-0000-0000"}})
        assert res.status_code == 201, res.get_json()
    yield s
    s.close()


def _sort_options(html: str) -> list[str]:
    select = re.search(r'<select id="f-sort" name="sort">(.*?)</select>', html, re.S)
    assert select, "no 並べ替え select"
    return re.findall(r">([^<]+)</option>", select.group(1))


def _resubmit(client, path: str, html: str, **change) -> tuple[str, dict]:
    """Submit the page's filter form (as it stands, with ``change``): the new page and
    its form."""
    sent = filter_form(html) | change
    res = client.get(path, query_string=sent)
    assert res.status_code == 200, text_of(res)
    new = text_of(res)
    return new, filter_form(new)


def test_the_operators_list_of_applications_sorts_from_the_form_keeping_the_filters(suite):
    client = client_for(suite, "demo-operator")
    html = text_of(client.get("/review/?kind=connection&q=1"))
    assert 'id="sort-submit"' in html and "並べ替える" in html
    assert _sort_options(html) == [label for label, _ in review_queue.SORTS.values()]
    html, form = _resubmit(client, "/review/", html, sort="org", order="desc")
    assert form["kind"] == "connection" and form["q"] == "1"
    assert form["sort"] == "org" and form["order"] == "desc"
    codes = re.findall(r'data-label="機関">[^<]*（([^）]+)）</td>', html)
    assert len(set(codes)) >= 2 and codes == sorted(codes, reverse=True)
    # and back the other way, from the same control
    html, form = _resubmit(client, "/review/", html, order="asc")
    codes = re.findall(r'data-label="機関">[^<]*（([^）]+)）</td>', html)
    assert codes == sorted(codes) and form["kind"] == "connection"


def test_a_reviewers_queue_sorts_from_the_form_keeping_its_scope(suite):
    client = client_for(suite, "demo-pref")
    html = text_of(client.get("/review/?scope=all"))
    html, form = _resubmit(client, "/review/", html, sort="number", order="desc")
    assert form["scope"] == "all" and form["sort"] == "number"
    numbers = re.findall(r'data-label="申請番号"><a [^>]*>([^<]+)</a>', html)
    assert len(numbers) >= 2 and numbers == sorted(numbers, reverse=True)
    assert 'aria-sort="descending"' in html


def test_the_account_request_list_sorts_from_the_form_keeping_the_search(suite):
    client = client_for(suite, "demo-operator")
    html = text_of(client.get("/account-requests?q=sort-req"))
    assert _sort_options(html) == [label for label, _ in account_requests.SORTS.values()]
    html, form = _resubmit(client, "/account-requests", html, sort="login", order="desc")
    assert form["q"] == "sort-req" and form["sort"] == "login" and form["order"] == "desc"
    logins = re.findall(r'data-label="希望するログイン名">([^<]+)</td>', html)
    assert logins == ["sort-req-2", "sort-req-1", "sort-req-0"]


def test_the_account_list_sorts_from_the_form_keeping_the_filters_and_page_size(suite):
    client = client_for(suite, "demo-operator")
    html = text_of(client.get("/auth/accounts/?role=primary_reviewer&per_page=10"))
    assert _sort_options(html) == [label for label, _ in admin.SORTS.values()]
    html, form = _resubmit(client, "/auth/accounts/", html, sort="login", order="desc")
    assert form["role"] == "primary_reviewer" and form["per_page"] == "10"
    logins = re.findall(r'data-label="ログイン名"><a [^>]*>([^<]+)</a>', html)
    assert logins == ["demo-pref", "demo-jlis"]
