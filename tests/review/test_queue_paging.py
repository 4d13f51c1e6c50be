"""The queue at real volumes: search by part of a number, code or name; sort by a
column; pages of 50; the cases my organisation already decided; and the same list as
CSV for Excel (the API and the page call one query, services.review.queue)."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from services.review.models import ReviewCase
from tests.conftest import Suite
from tests.pages.support import client_for, text_of
from tests.review import support
from tests.review.support import CHIYODA, OSAKA_CITY, UNION


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("review-queue-paging") / "var")
    yield s
    s.close()


def page(suite, login, **args) -> dict:
    res = suite.client.get("/api/review/queue", query_string=args, headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return res.get_json()


def ids(body) -> list[int]:
    return [i["application_id"] for i in body["items"]]


def test_search_matches_part_of_the_number_the_code_or_the_name(suite):
    chiyoda, union = support.submit(suite, CHIYODA), support.submit(suite, UNION)
    by_name = ids(page(suite, "demo-operator", q="広域連合"))
    assert union in by_name and chiyoda not in by_name
    assert chiyoda in ids(page(suite, "demo-operator", q="1310"))
    assert ids(page(suite, "demo-operator", q=f"{chiyoda:06d}"[-4:])) .count(chiyoda) == 1
    # case does not matter, and LIKE's wildcards are plain characters
    assert union in ids(page(suite, "demo-operator", q="u-example"))
    assert page(suite, "demo-operator", q="%")["total"] == 0


def test_sorting_by_a_column_both_ways(suite):
    support.submit(suite, OSAKA_CITY), support.submit(suite, CHIYODA)
    up = [i["org"]["id"] for i in page(suite, "demo-operator", sort="org", per_page=200)["items"]]
    down = [i["org"]["id"] for i in page(suite, "demo-operator", sort="org", order="desc",
                                          per_page=200)["items"]]
    assert up == sorted(up) and down == sorted(down, reverse=True) and len(set(up)) > 1


def test_pages_of_fifty_cover_every_case_once(suite):
    for _ in range(55):
        support.submit(suite, CHIYODA)
    with suite.ctx("review").transaction() as session:
        total = session.scalar(select(func.count()).select_from(ReviewCase))
    first = page(suite, "demo-operator")
    assert first["per_page"] == 50 and len(first["items"]) == 50
    assert first["total"] == total and first["pages"] == -(-total // 50)
    seen = []
    for n in range(1, first["pages"] + 1):
        seen += ids(page(suite, "demo-operator", page=n))
    assert len(seen) == total == len(set(seen))
    assert page(suite, "demo-operator", page=first["pages"] + 1)["items"] == []


def test_a_reviewer_finds_the_cases_their_organisation_already_decided(suite):
    decided, waiting = support.submit(suite, CHIYODA), support.submit(suite, CHIYODA)
    assert support.decide(suite, "demo-pref", decided).status_code == 201
    support.wait_for(lambda: support.case(suite, decided).stage == "secondary",
                     what="the case moves to MIC")
    mine = ids(page(suite, "demo-pref", per_page=200))
    done = ids(page(suite, "demo-pref", scope="decided", per_page=200))
    both = ids(page(suite, "demo-pref", scope="all", per_page=200))
    assert decided not in mine and waiting in mine
    assert decided in done and waiting not in done
    assert {decided, waiting} <= set(both)
    # another prefecture's reviewer sees neither
    assert decided not in ids(page(suite, "demo-jlis", scope="all", per_page=200))


@pytest.mark.parametrize("args,word", [({"sort": "secret"}, "並べ替え"), ({"page": "0"}, "ページ"),
                                       ({"per_page": "500"}, "1ページの件数"),
                                       ({"scope": "everyone"}, "表示範囲")])
def test_a_bad_paging_argument_is_422_naming_it_in_japanese(suite, args, word):
    res = suite.client.get("/api/review/queue", query_string=args,
                           headers=suite.headers("demo-pref"))
    assert res.status_code == 422 and word in res.get_json()["error"]["message"]


def test_csv_opens_in_excel_with_japanese_headers_and_every_matching_case(suite):
    evil = {**UNION, "id": "U-EVIL", "name": "=HYPERLINK(\"http://x\")広域連合"}
    support.submit(suite, evil), support.submit(suite, CHIYODA)
    res = suite.client.get("/api/review/queue.csv", headers=suite.headers("demo-operator"))
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert res.headers["Content-Disposition"].startswith('attachment; filename="review-queue-')
    raw = res.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["申請番号", "機関名", "機関コード"]
    assert len(rows) - 1 == page(suite, "demo-operator")["total"]
    assert "一次審査中" in {r[6] for r in rows[1:]}          # statuses by their Japanese names
    names = {r[2]: r[1] for r in rows[1:]}
    assert names["U-EVIL"].startswith("'=")                  # no formula reaches Excel
    # the page's link works with the page session (no bearer token) and keeps the filters
    pref = client_for(suite, "demo-pref")
    html = text_of(pref.get("/review/?q=千代田"))
    assert "/review/queue.csv?q=" in html
    page_csv = pref.get("/review/queue.csv?q=千代田")
    assert page_csv.status_code == 200
    lines = page_csv.get_data().decode("utf-8-sig").splitlines()[1:]
    assert lines and all("東京都千代田区" in line for line in lines)


def test_the_page_pages_and_sorts_with_links_that_keep_the_filters(suite):
    for _ in range(3):
        support.submit(suite, CHIYODA)
    op = client_for(suite, "demo-operator")
    html = text_of(op.get("/review/?q=131016&per_page=1"))
    assert "1 / " in html and 'rel="next"' in html and "q=131016" in html
    second = text_of(op.get("/review/?q=131016&per_page=1&page=2"))
    assert 'rel="prev"' in second and 'aria-current="page">2 / ' in second
    sorted_page = text_of(op.get("/review/?sort=number&order=desc"))
    assert 'aria-sort="descending"' in sorted_page
