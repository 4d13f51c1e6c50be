"""The list of 委任情報確認依頼 for real volumes: search by part of the 申請番号, the
delegatee's name or code, the 項番 or affair; sort by column; pages of 50; CSV for Excel
with the page session; the API's items beside it. One function behind all three."""
from __future__ import annotations

import csv
import io
import re

import pytest

from shared.pages import COOKIE
from tests.matching.conftest import Matching, envelope, query

A = "131016"           # the delegator asked to confirm


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    m = Matching(tmp_path_factory.mktemp("confirmation-list") / "var")
    for n in range(55):
        org = f"U13{n:07d}"
        payload = {"application_id": n + 1, "round": 1, "org_id": org,
                   "number": f"R2026-{n + 1:06d}",
                   "org_name": "=例 広域連合" if n == 54 else f"例 第{n:02d}組合",
                   "query_delegations": [query(str(n % 7 + 1), [A], "地方自治法第252条の14",
                                               "事務の委託に関する規約")],
                   "provision_delegations": [], "provision_acceptances": []}
        assert m.task("delegations.submitted")(envelope("delegations.submitted", payload)) == "done"
    yield m
    m.runtime.close()


def _page_client(m, org=A):
    client = m.app.test_client()
    token = m.headers(org)["Authorization"].removeprefix("Bearer ")
    client.set_cookie(COOKIE, token)
    return client


def test_the_page_searches_sorts_and_pages(many):
    client = _page_client(many)
    html = client.get("/matching/confirmations").get_data(as_text=True)
    assert "55件" in html and "1〜50件目" in html and "1 / 2 ページ" in html
    assert "例 第00組合（U130000000）" in html and "R2026-000001" in html
    assert "地方自治法第252条の14（事務の委託に関する規約）" in html
    assert "article" not in html and "rule_title" not in html
    html = client.get("/matching/confirmations?page=2").get_data(as_text=True)
    assert "51〜55件目" in html and "R2026-000055" in html and "R2026-000001" not in html
    html = client.get("/matching/confirmations?q=第1").get_data(as_text=True)
    assert "10件" in html and "例 第10組合" in html and "例 第20組合" not in html
    html = client.get("/matching/confirmations?q=u13000001&sort=number&order=desc") \
        .get_data(as_text=True)
    numbers = re.findall(r'data-label="申請番号">(R2026-\d+)<', html)
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 10
    res = client.get("/matching/confirmations?sort=nope&status=x")
    assert res.status_code == 422 and "並べ替え（sort）" in res.get_data(as_text=True)
    other = _page_client(many, "131024").get("/matching/confirmations").get_data(as_text=True)
    assert "0件" in other


def test_the_csv_has_every_match_with_a_bom_and_quoted_formulas(many):
    res = _page_client(many).get("/matching/confirmations.csv?status=all")
    assert res.status_code == 200
    body = res.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["申請番号", "委任先", "委任先の機関コード"] and len(rows) == 56
    assert ["'=例 広域連合"] == [r[1] for r in rows[1:] if "広域連合" in r[1]]
    assert rows[1][7] == "確認待ち"   # the badge's word (shared.vocabulary)


def test_the_api_pages_the_same_list(many):
    res = many.client.get("/api/matching/confirmations?q=第0&per_page=5",
                          headers=many.headers(A))
    body = res.get_json()
    assert res.status_code == 200 and body["total"] == 10 and body["pages"] == 2
    assert [i["number"] for i in body["items"]] == [f"R2026-{n:06d}" for n in range(1, 6)]
    assert body["items"][0]["delegatee_name"] == "例 第00組合"
    res = many.client.get("/api/matching/confirmations?page=0", headers=many.headers(A))
    assert res.status_code == 422


def test_the_page_sorts_from_its_filter_form_keeping_the_search(many):
    """On a phone the table's sort headers are hidden: the form's 並べ替え control sorts,
    submitted as it stands (no JavaScript), with the search and status kept."""
    from tests.pages.support import filter_form

    client = _page_client(many)
    html = client.get("/matching/confirmations?q=u13000001&status=all").get_data(as_text=True)
    sent = filter_form(html) | {"sort": "number", "order": "desc"}
    assert 'id="sort-submit"' in html
    html = client.get("/matching/confirmations", query_string=sent).get_data(as_text=True)
    form = filter_form(html)
    assert form["q"] == "u13000001" and form["status"] == "all" and form["order"] == "desc"
    numbers = re.findall(r'data-label="申請番号">(R2026-\d+)<', html)
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 10


def test_delegators_show_by_name_with_the_code_beside(many):
    """The names come with the records (intake's registry); a code it does not know
    shows alone."""
    payload = {"application_id": 900, "round": 1, "org_id": "012025", "number": "R2026-000900",
               "org_name": "北海道函館市",
               "org_names": {"012033": "北海道小樽市", "012025": "北海道函館市"},
               "query_delegations": [query("3", ["012033", "X-UNKNOWN"])],
               "provision_delegations": [], "provision_acceptances": []}
    assert many.task("delegations.submitted")(envelope("delegations.submitted", payload)) == "done"
    html = _page_client(many, "012033").get("/matching/confirmations").get_data(as_text=True)
    assert "委任元: 北海道小樽市（012033）、X-UNKNOWN" in html
    item = many.client.get("/api/matching/confirmations",
                           headers=many.headers("012033")).get_json()["items"][0]
    assert item["delegator_names"] == {"012033": "北海道小樽市"}
