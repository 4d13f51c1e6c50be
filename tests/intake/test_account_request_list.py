"""The operators' list of アカウント発行申請: search by part of the number, the
organisation's code or name, the requested login or the requester; sort; pages of 50;
CSV for Excel with the page session; the API beside it. Never a token."""
from __future__ import annotations

import csv
import io
import itertools

import pytest
from sqlalchemy import update

from services.intake.models import AccountRequest
from tests.conftest import Suite
from tests.pages.support import client_for, text_of

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def filed(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("account-request-list") / "var", start_worker=False,
              env={"NWS_ACCOUNT_REQUEST_LIMIT_ADDRESS": "1000/hour",
                   "NWS_ACCOUNT_REQUEST_LIMIT_ORG": "1000/day"})
    tokens = []
    for n in range(53):
        org = "012025" if n < 50 else "131016"
        res = s.client.post("/api/intake/account-requests", environ_base={
            "REMOTE_ADDR": f"192.0.2.{next(_addresses) % 250 + 1}"}, json={
            "org": org, "login": f"req-{n:02d}",
            "requester": {"department": "情報政策課", "name": f"=申請 {n:02d}",
                          "email": "a@example.lg.jp", "phone": "03-0000-0000"}})
        assert res.status_code == 201, res.get_json()
        tokens.append(res.get_json()["receipt_token"])
    yield s, tokens
    s.close()


def test_the_list_searches_sorts_and_pages(filed):
    suite, tokens = filed
    client = client_for(suite, "demo-operator")
    html = text_of(client.get("/account-requests"))
    assert "53件" in html and "1〜50件目" in html and "2 ページ" in html
    assert "北海道函館市" in html or "函館市" in html
    html = text_of(client.get("/account-requests?q=千代田"))
    assert "3件" in html and "req-50" in html and "req-00" not in html
    html = text_of(client.get("/account-requests?q=REQ-1&sort=login&order=asc"))
    assert html.index("req-10") < html.index("req-19")
    html = text_of(client.get("/account-requests?sort=login&order=desc&page=2"))
    assert "51〜53件目" in html and "req-00" in html and "req-52" not in html
    res = client.get("/account-requests?sort=secret")
    assert res.status_code == 422 and "並べ替え（sort）" in text_of(res)
    assert not any(t in html for t in tokens)


def test_the_csv_has_every_match_with_a_bom_and_quoted_formulas(filed):
    suite, tokens = filed
    client = client_for(suite, "demo-operator")
    res = client.get("/account-requests.csv?q=131016")
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("text/csv")
    body = res.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["受付番号", "機関名", "機関コード", "希望するログイン名"]
    assert len(rows) == 4 and rows[1][4].startswith("'=申請")
    assert not any(t in body.decode("utf-8-sig") for t in tokens)


def test_the_api_answers_the_same_list_and_only_operators_see_it(filed):
    suite, _tokens = filed
    res = suite.client.get("/api/intake/account-requests?q=函館&per_page=10&page=5",
                           headers=suite.headers("demo-operator"))
    body = res.get_json()
    assert res.status_code == 200 and body["total"] == 50 and body["pages"] == 5
    assert len(body["items"]) == 10 and body["items"][0]["accounts"] == []
    for who in ("demo-applicant", "demo-mic"):
        assert suite.client.get("/api/intake/account-requests",
                                headers=suite.headers(who)).status_code == 403
        assert client_for(suite, who).get("/account-requests").status_code == 403


def test_issued_accounts_show_by_login_and_role(filed):
    suite, _tokens = filed
    with suite.ctx("intake").transaction() as session:
        session.execute(update(AccountRequest).where(AccountRequest.requested_login == "req-51")
                        .values(login="req-51", issued_accounts=[
                            {"login": "req-51", "role": "applicant"},
                            {"login": "req-51-keiyu", "role": "forwarder"}]))
    html = text_of(client_for(suite, "demo-operator").get("/account-requests?q=req-51"))
    assert "1件" in html and "req-51-keiyu</a>（経由機関）" in html
