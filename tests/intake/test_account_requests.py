"""情報共有サイト アカウント発行申請: filed without logging in, followed with a receipt
(number + secret token), reviewed in two stages, and on approval an account with a
one-time activation link shown on the receipt."""
from __future__ import annotations

import itertools
import re

import pytest

from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, post_form, text_of
from tests.review import support as review

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
HOKKAIDO = "hokkaido-reviewer"   # primary_reviewer of 北海道 (010006)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("account-requests") / "var")
    s.add_user(HOKKAIDO, "010006", "primary_reviewer")
    yield s
    s.close()


def request_body(org="012025", login="hakodate-joho", **changes) -> dict:
    body = {"org": org, "login": login,
            "requester": {"department": "総務部情報政策課", "title": "主査", "name": "函館 一郎",
                          "email": "joho@city.hakodate.example.jp", "phone": "0138-21-0000"}}
    body.update(changes)
    return body


_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address of its own (the per-address limit is tested on purpose)."""
    return f"192.0.2.{next(_addresses)}"


def post_request(suite, body, address=None):
    return suite.client.post("/api/intake/account-requests", json=body,
                             environ_base={"REMOTE_ADDR": address or fresh_address()})


def file_request(suite, address=None, **kw) -> dict:
    res = post_request(suite, request_body(**kw), address)
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def receipt(suite, number, token):
    headers = {} if token is None else {"X-Receipt-Token": token}
    return suite.client.get(f"/api/intake/account-requests/{number}", headers=headers)


def wait_receipt(suite, filed, predicate, what):
    return wait_for(lambda: (lambda r: r if predicate(r) else None)(
        receipt(suite, filed["number"], filed["receipt_token"]).get_json()), what=what)


def request_id(suite, number) -> int:
    return next(i["application_id"] for i in review.queue(suite, "demo-operator", kind="account")
                if i["number"] == number)


def test_approved_request_issues_an_account_activated_once_through_the_receipt(suite):
    filed = file_request(suite)
    assert filed["number"].startswith("A") and len(filed["receipt_token"]) >= 20
    # The token is never put in a URL.
    assert filed["receipt_url"] == f"/api/intake/account-requests/{filed['number']}"
    first = receipt(suite, filed["number"], filed["receipt_token"]).get_json()
    assert first["status"] == "submitted" and first["account"] is None

    wait_for(lambda: [i for i in review.queue(suite, HOKKAIDO) if i["kind"] == "account"],
             what="request in 北海道's queue")
    app_id = request_id(suite, filed["number"])
    case = suite.client.get(f"/api/review/applications/{app_id}",
                            headers=suite.headers(HOKKAIDO)).get_json()
    assert case["kind"] == "account" and case["forms"]["account"]["login"] == "hakodate-joho"
    assert review.decide(suite, HOKKAIDO, app_id).status_code == 201
    wait_receipt(suite, filed, lambda r: r["status"] == "secondary_review", "secondary")
    assert review.decide(suite, "demo-mic", app_id, "承認", "発行します").status_code == 201

    # Status reports reach intake in batches (up to a second late), so the account may be
    # issued before the report of the 承認 arrives; the history is ordered by when each
    # thing happened, not by when intake heard of it.
    done = wait_receipt(suite, filed, lambda r: r["account"] is not None and "secondary_approved"
                        in [h["event"] for h in r["history"]], "account issued")
    assert done["status"] == "registered"
    account = done["account"]
    assert account["login"] == "hakodate-joho" and account["expired"] is False
    # The token travels in bodies only: no address in the receipt carries it.
    assert account["activation_page"] == "/auth/activate"
    assert account["activation_api"] == "/api/auth/activate"
    assert [k for k, v in account.items()
            if k != "activation_token" and account["activation_token"] in str(v)] == []
    events = [h["event"] for h in done["history"]]
    assert events == ["submitted", "routed", "primary_approved", "secondary_approved",
                      "account_issued"]

    # Before activation the account cannot log in; activation sets the password.
    assert suite.client.post("/api/auth/token", json={
        "login": "hakodate-joho", "password": "hakodate-2026!"}).status_code == 401
    res = suite.client.post("/api/auth/activate", json={
        "token": account["activation_token"], "password": "hakodate-2026!"})
    assert res.status_code == 200, res.get_json()
    token = suite.client.post("/api/auth/token", json={
        "login": "hakodate-joho", "password": "hakodate-2026!"})
    assert token.status_code == 200
    # The used link does nothing any more.
    again = suite.client.post("/api/auth/activate", json={
        "token": account["activation_token"], "password": "someone-else-1"})
    assert again.status_code == 409 and JAPANESE.search(again.get_json()["error"]["message"])
    # The new account applies like any applicant.
    res = suite.client.post("/api/intake/applications", json={"kind": "connection"},
                            headers={"Authorization": f"Bearer {token.get_json()['token']}"})
    assert res.status_code == 201


def test_rejected_request_shows_the_reason_and_no_link(suite):
    filed = file_request(suite, org="012033", login="otaru-joho")  # 小樽市
    wait_for(lambda: [i for i in review.queue(suite, HOKKAIDO)
                      if i["number"] == filed["number"]], what="in queue")
    app_id = request_id(suite, filed["number"])
    assert review.decide(suite, HOKKAIDO, app_id, "否認",
                         "申請担当者の所属が確認できません。").status_code == 201
    done = wait_receipt(suite, filed, lambda r: r["status"] == "returned", "returned")
    assert done["account"] is None
    assert done["history"][-1]["comment"] == "申請担当者の所属が確認できません。"
    # Deciding again is refused; no account ever exists for it.
    assert review.decide(suite, HOKKAIDO, app_id).status_code == 409
    assert suite.client.post("/api/auth/token", json={
        "login": "otaru-joho", "password": "whatever-123"}).status_code == 401


def test_a_rejected_request_is_corrected_with_the_receipt_and_reviewed_again(suite):
    filed = file_request(suite, org="012068", login="kushiro-joho")  # 釧路市
    wait_for(lambda: [i for i in review.queue(suite, HOKKAIDO)
                      if i["number"] == filed["number"]], what="in queue")
    app_id = request_id(suite, filed["number"])
    assert review.decide(suite, HOKKAIDO, app_id, "否認", "連絡先が代表番号です。").status_code == 201
    wait_receipt(suite, filed, lambda r: r["status"] == "returned", "returned")
    url = f"/api/intake/account-requests/{filed['number']}"
    fixed = {"login": "kushiro-joho", "requester": {
        **request_body()["requester"], "phone": "0154-31-0000"}}
    assert suite.client.put(url, json=fixed, headers={"X-Receipt-Token": "wrong"}
                            ).status_code == 404
    assert suite.client.put(url, json=fixed).status_code == 404
    res = suite.client.put(url, json=fixed, headers={"X-Receipt-Token": filed["receipt_token"]})
    assert res.status_code == 202, res.get_json()
    assert res.get_json()["round"] == 2 and "Deprecation" not in res.headers
    # Resubmitting again while it is under review is refused.
    again = suite.client.put(url, json=fixed, headers={"X-Receipt-Token": filed["receipt_token"]})
    assert again.status_code == 409
    wait_for(lambda: review.case(suite, app_id, 2), what="round 2 in review")
    case = suite.client.get(f"/api/review/applications/{app_id}",
                            headers=suite.headers(HOKKAIDO)).get_json()
    assert case["round"] == 2 and case["forms"]["account"]["phone"] == "0154-31-0000"
    assert review.decide(suite, HOKKAIDO, app_id).status_code == 201
    assert review.decide(suite, "demo-mic", app_id).status_code == 201
    done = wait_receipt(suite, filed, lambda r: r["account"] is not None and [
        h["event"] for h in r["history"]].count("routed") == 2, "issued")
    assert done["account"]["login"] == "kushiro-joho"
    assert [h["event"] for h in done["history"]].count("routed") == 2


@pytest.fixture(scope="module")
def asahikawa(suite):
    return file_request(suite, org="012041", login="asahikawa-joho")  # 旭川市


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_the_receipt_needs_its_token(suite, asahikawa, token):
    assert receipt(suite, asahikawa["number"], asahikawa["receipt_token"]).status_code == 200
    res = receipt(suite, asahikawa["number"], token)
    assert res.status_code == 404 and JAPANESE.search(res.get_json()["error"]["message"])


def test_an_unknown_receipt_number_is_404(suite):
    res = receipt(suite, "A2026-999999", "anything")
    assert res.status_code == 404


def test_a_token_in_the_url_is_refused_before_anything_is_looked_up(suite, asahikawa):
    url = f"/api/intake/account-requests/{asahikawa['number']}"
    for token in (asahikawa["receipt_token"], "wrong"):
        res = suite.client.get(url, query_string={"token": token})
        assert res.status_code == 400
        error = res.get_json()["error"]
        assert error["code"] == "token_in_url" and "X-Receipt-Token" in error["message"]
        assert "number" not in res.get_json()
        res = suite.client.put(url, query_string={"token": token},
                               json=request_body(org="012041", login="asahikawa-joho"))
        assert res.status_code == 400
    assert receipt(suite, asahikawa["number"], asahikawa["receipt_token"]).status_code == 200


def test_pending_requests_of_one_organisation_are_decided_each_on_its_own(suite):
    """A stranger's request does not block the real one: both are filed, the reviewer
    sees both, rejects one and approves the other."""
    fake = file_request(suite, org="012050", login="muroran-fake")    # 室蘭市
    real = file_request(suite, org="012050", login="muroran-joho")
    assert fake["number"] != real["number"]
    wait_for(lambda: {fake["number"], real["number"]} <= {
        i["number"] for i in review.queue(suite, HOKKAIDO)}, what="both in 北海道's queue")
    fake_id, real_id = request_id(suite, fake["number"]), request_id(suite, real["number"])
    # Each case names the organisation's other requests under review (API and page).
    case = suite.client.get(f"/api/review/applications/{real_id}",
                            headers=suite.headers(HOKKAIDO)).get_json()
    assert [(r["number"], r["login"]) for r in case["other_requests"]] == [
        (fake["number"], "muroran-fake")]
    page = client_for(suite, HOKKAIDO).get(f"/review/applications/{fake_id}")
    note = re.search(r'id="other-requests">(.*?)</div>', page.get_data(as_text=True), re.S)
    assert "ほかに 1 件" in note.group(1) and real["number"] in note.group(1)
    assert review.decide(suite, HOKKAIDO, fake_id, "否認", "申請者に確認できません。"
                         ).status_code == 201
    assert review.decide(suite, HOKKAIDO, real_id).status_code == 201
    wait_receipt(suite, real, lambda r: r["status"] == "secondary_review", "secondary")
    assert review.decide(suite, "demo-mic", real_id).status_code == 201
    done = wait_receipt(suite, real, lambda r: r["account"] is not None, "issued")
    case = suite.client.get(f"/api/review/applications/{real_id}",
                            headers=suite.headers("demo-mic")).get_json()
    assert case["other_requests"] == []        # the other one was decided
    assert done["account"]["login"] == "muroran-joho"
    rejected = wait_receipt(suite, fake, lambda r: r["status"] == "returned", "returned")
    assert rejected["account"] is None


def test_requests_are_limited_per_client_address(suite):
    address = "198.51.100.7"
    orgs = ["012076", "012084", "012092", "012106", "012114"]  # 帯広 北見 夕張 岩見沢 網走
    # Refused requests do not count; five filed ones do.
    assert post_request(suite, request_body(org="999999"), address).status_code == 404
    for n, org in enumerate(orgs):
        file_request(suite, address, org=org, login=f"limit-{n}")
    before = stored_requests(suite)
    res = post_request(suite, request_body(org="012122", login="limit-6"), address)
    assert res.status_code == 429
    error = res.get_json()["error"]
    assert error["code"] == "rate_limited" and "1 時間あたり 5 回" in error["message"]
    assert "接続元" in error["message"]
    assert 1 <= int(res.headers["Retry-After"]) <= 3600
    assert stored_requests(suite) == before
    # Another address may still file.
    file_request(suite, org="012122", login="limit-6")


def test_requests_are_limited_per_organisation(suite):
    for n in range(3):
        file_request(suite, org="012131", login=f"tomakomai-{n}")  # 苫小牧市
    before = stored_requests(suite)
    res = post_request(suite, request_body(org="012131", login="tomakomai-3"))
    assert res.status_code == 429
    error = res.get_json()["error"]
    assert "機関 012131" in error["message"] and "1 日あたり 3 回" in error["message"]
    assert 3600 < int(res.headers["Retry-After"]) <= 86400
    assert stored_requests(suite) == before


def test_concurrent_requests_never_pass_the_organisation_limit(suite):
    """Twenty requests for one organisation at once (each from its own address): the
    count and the filing are one atomic step, so exactly the limit gets through."""
    from concurrent.futures import ThreadPoolExecutor

    org = "012149"                                               # 稚内市
    before = stored_requests(suite)

    def post(n):
        client = suite.app.test_client()
        return client.post("/api/intake/account-requests",
                           json=request_body(org=org, login=f"wakkanai-{n}"),
                           environ_base={"REMOTE_ADDR": fresh_address()}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(post, range(20)))
    assert sorted(codes) == [201] * 3 + [429] * 17
    assert stored_requests(suite) == (before[0] + 3, before[1] + 3)


@pytest.mark.parametrize("body, status", [
    (request_body(org="999999"), 404),
    (request_body(login="x"), 422),
    (request_body(requester={"department": "課", "name": "名", "email": "not-mail",
                             "phone": "0138-21-0000"}), 422),
    ({"org": "012025"}, 422),
])
def test_bad_requests_are_refused_in_japanese_and_store_nothing(suite, body, status):
    before = stored_requests(suite)
    res = post_request(suite, body)
    assert res.status_code == status
    assert JAPANESE.search(res.get_json()["error"]["message"])
    assert stored_requests(suite) == before


def stored_requests(suite) -> tuple[int, int]:
    from sqlalchemy import func, select

    from services.intake.models import AccountRequest, Application

    with suite.ctx("intake").transaction() as session:
        return (session.scalar(select(func.count()).select_from(Application).where(
                    Application.kind == "account")),
                session.scalar(select(func.count()).select_from(AccountRequest)))


def test_a_municipal_executive_gets_an_applicant_and_a_forwarder_account(suite):
    """A 市区町村's 首長部局 also forwards its 教育委員会's applications (経由): its
    approved request issues both accounts, each with its own activation link."""
    filed = file_request(suite, org="012157", login="bibai-joho")          # 美唄市
    app_id = wait_for(lambda: next((i["application_id"] for i in review.queue(
        suite, HOKKAIDO) if i["number"] == filed["number"]), None), what="in the queue")
    case = suite.client.get(f"/api/review/applications/{app_id}",
                            headers=suite.headers(HOKKAIDO)).get_json()
    assert case["forms"]["account"]["roles"] == ["applicant", "forwarder"]
    assert review.decide(suite, HOKKAIDO, app_id).status_code == 201
    wait_receipt(suite, filed, lambda r: r["status"] == "secondary_review", "secondary")
    assert review.decide(suite, "demo-mic", app_id, "承認", "").status_code == 201
    done = wait_receipt(suite, filed, lambda r: r["account"] is not None, "issued")
    accounts = {a["role"]: a for a in done["accounts"]}
    assert sorted(accounts) == ["applicant", "forwarder"]
    assert accounts["applicant"]["login"] == "bibai-joho" == done["account"]["login"]
    forwarder = accounts["forwarder"]
    assert forwarder["login"] == "bibai-joho-keiyu"
    page = "/account-requests/receipt"
    html = text_of(post_form(suite.app.test_client(), page, page, {
        "number": filed["number"], "token": filed["receipt_token"]}))
    assert "申請者のアカウント" in html and "経由機関のアカウント" in html
    assert html.count("パスワードを設定してアカウントを有効化する") == 2
    assert forwarder["activation_token"] != accounts["applicant"]["activation_token"]
    res = suite.client.post("/api/auth/activate", json={
        "token": forwarder["activation_token"], "password": "bibai-forwarding-2026"})
    assert res.status_code == 200 and res.get_json()["role"] == "forwarder"
    assert res.get_json()["org"] == "012157"


def test_boards_of_education_and_prefectures_request_the_applicant_role_only(suite):
    for org, login in (("012165-BOE", "ashibetsu-kyoi"), ("010006", "hokkaido-joho")):
        filed = file_request(suite, org=org, login=login)
        ctx = suite.ctx("intake")
        from services.intake.models import Application, FormEntry
        from sqlalchemy import select
        with ctx.transaction() as session:
            app = session.scalar(select(Application).where(Application.number == filed["number"]))
            data = session.scalar(select(FormEntry.data).where(FormEntry.application_id == app.id))
        assert data["roles"] == ["applicant"], org


def test_identity_learns_organisation_names_from_intakes_directory(suite):
    from services.identity import organisations

    def names():
        with suite.ctx("identity").transaction() as session:
            return organisations.names_of(session, ["131016", "012157"]) or None

    found = wait_for(names, what="the directory at identity")
    assert "千代田区" in found["131016"] and "美唄市" in found["012157"]
