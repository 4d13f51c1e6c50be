"""GET /api/intake/organisations: the registry searched by part of the name or of the
code, within a prefecture, a page at a time — the search behind the pages'
organisation picker (and its page twin /intake/organisations.json)."""
from __future__ import annotations

import pytest

from tests.conftest import Suite
from tests.pages.support import client_for

API = "/api/intake/organisations"


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("org-search") / "var", start_worker=False)
    yield s
    s.close()


def _get(suite, query: str, login: str = "demo-applicant") -> dict:
    res = suite.client.get(f"{API}?{query}", headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return res.get_json()


def test_part_of_a_name_finds_the_organisations(suite):
    found = _get(suite, "q=八王子")
    assert [o["id"] for o in found["items"]] == ["132012", "132012-BOE"]
    assert found["items"][0]["name"] == "東京都八王子市" and found["total"] == 2


def test_part_of_a_code_finds_the_organisation_also_in_full_width_digits(suite):
    assert "132012" in [o["id"] for o in _get(suite, "q=13201")["items"]]
    assert [o["id"] for o in _get(suite, "q=１３２０１２")["items"]] == ["132012", "132012-BOE"]
    assert [o["id"] for o in _get(suite, "q=132012-boe")["items"]] == ["132012-BOE"]


@pytest.mark.parametrize("pref", ["pref=13", "pref=130001", "prefecture=130001",
                                  "pref=東京都", "prefecture=13"])
def test_the_prefecture_filter_takes_a_code_a_number_or_a_name(suite, pref):
    found = _get(suite, f"{pref}&q=市&limit=500")
    assert found["total"] > 20
    assert {o["prefecture_code"] for o in found["items"]} == {"130001"}


def test_an_unknown_prefecture_matches_nothing(suite):
    assert _get(suite, "prefecture=999999")["total"] == 0


def test_limit_and_offset_page_the_matches(suite):
    first = _get(suite, "q=市&limit=5")
    assert len(first["items"]) == 5 and first["total"] > 5 and first["limit"] == 5
    second = _get(suite, "q=市&limit=5&offset=5")
    assert not {o["id"] for o in first["items"]} & {o["id"] for o in second["items"]}
    assert len(_get(suite, "limit=10000")["items"]) == 500


def test_applying_leaves_out_those_that_cannot_apply(suite):
    assert _get(suite, "q=色丹村")["total"] == 2          # 北方領土: in the code table
    assert _get(suite, "q=色丹村&applying=1")["total"] == 0
    assert _get(suite, "q=MIC&applying=1")["total"] == 0


def test_any_logged_in_user_may_search_and_nobody_else(suite):
    for login in ("demo-applicant", "demo-pref", "demo-operator"):
        assert _get(suite, "q=八王子", login)["total"] == 2
    assert suite.client.get(f"{API}?q=八王子").status_code == 401


def test_the_pages_twin_searches_the_same_with_the_login_cookie(suite):
    client = client_for(suite, "demo-applicant")
    found = client.get("/intake/organisations.json?pref=13&q=八王子").get_json()
    assert [o["id"] for o in found["items"]] == ["132012", "132012-BOE"]
    many = client.get("/intake/organisations.json?q=市").get_json()
    assert len(many["items"]) == 50 and many["total"] > 50      # at most 50 a page
    assert suite.app.test_client().get("/intake/organisations.json?q=x").status_code == 302


def test_the_search_parameters_are_documented(suite):
    doc = suite.client.get("/api/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"][API]["get"]["parameters"]}
    assert {"q", "pref", "prefecture", "applying", "limit", "offset"} <= set(params)
    assert "一部" in params["q"]["schema"].get("description", params["q"].get("description", ""))


def test_like_wildcards_are_plain_characters(suite):
    assert _get(suite, "q=%25")["total"] == 0
    assert _get(suite, "q=_")["total"] == 0
