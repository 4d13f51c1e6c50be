"""Notifications: a 差戻し and an approval reach the applicant organisation's accounts
as inbox notices and as mails received by a real SMTP server; opt-outs, the inbox API
and page, failing SMTP servers (the .eml files of the embedded default are in
test_notification_eml.py)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from services.identity.models import Mail
from tests.conftest import Suite, wait_for
from tests.identity.smtp_support import SmtpServer, text_of
from tests.pages.support import client_for, post_form, text_of as page_text
from tests.review.support import CHIYODA, decide, submit

APPLICANT = "notice-applicant"
OPTED_OUT = "notice-optout"
FLAKY = "notice-flaky"
EMERGENCY_PHONE = "090-9999-0001"
EMERGENCY_MAIL = "kinkyu-only@example.jp"


def forms_with_emergency_contact() -> dict:
    return {"02-01": {"org": "131016", "system_chief": {"title": "部長", "name": "山田 一郎"}},
            "02-02": {"org": "131016", "normal_contacts": [],
                      "emergency_contacts": [{"priority": 1, "name": "山田 一郎",
                                              "phone": EMERGENCY_PHONE,
                                              "email": EMERGENCY_MAIL}]}}


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def suite(tmp_path_factory, smtp):
    s = Suite(tmp_path_factory.mktemp("notify") / "var",
              env={"NWS_SMTP_URL": smtp.url, "NWS_MAIL_FROM": "nws@example.lg.jp",
                   "NWS_MAIL_RETRY_BASE": "0.3", "NWS_PUBLIC_URL": "https://nws.example.jp"})
    s.add_user(APPLICANT, "131016", "applicant", "通知 太郎", email="taro@example.lg.jp")
    s.add_user(OPTED_OUT, "131016", "applicant", "通知 次郎", email="jiro@example.lg.jp")
    res = s.client.put("/api/auth/notifications/settings", headers=s.headers(OPTED_OUT),
                       json={"mail_kinds": ["approved", "registered"]})
    assert res.status_code == 200, res.get_json()
    yield s
    s.close()


def mails(suite: Suite, address: str) -> list[Mail]:
    with suite.ctx("identity").transaction() as session:
        rows = session.scalars(select(Mail).where(Mail.to_address == address)
                               .order_by(Mail.created_at)).all()
        session.expunge_all()
        return rows


def notices(suite: Suite, login: str) -> dict:
    res = suite.client.get("/api/auth/notifications", headers=suite.headers(login))
    assert res.status_code == 200, res.get_json()
    return res.get_json()


def test_a_return_is_mailed_in_japanese_with_the_reason_and_no_emergency_contact(suite, smtp):
    app_id = submit(suite, CHIYODA, form_data=forms_with_emergency_contact())
    number = f"2026-{app_id:06d}"
    assert decide(suite, "demo-pref", app_id, "否認", "様02-01 の責任者の役職名が空欄です。").status_code == 201
    msg = wait_for(lambda: [m for m in smtp.recorder.to("taro@example.lg.jp")
                            if number in str(m["Subject"]) and "差戻し" in str(m["Subject"])],
                   what="the return mail")[0]
    assert msg["From"] == "nws@example.lg.jp"
    assert str(msg["Subject"]) == f"【差戻し】申請 {number} が否認されました"
    body = text_of(msg)
    assert f"申請番号 {number}（東京都千代田区）" in body
    assert "一次審査で否認" in body and "様02-01 の責任者の役職名が空欄です。" in body
    assert f"https://nws.example.jp/applicant/applications/{app_id}" in body
    raw = msg.as_string()
    assert EMERGENCY_PHONE not in raw and EMERGENCY_MAIL not in raw
    assert EMERGENCY_PHONE not in body and EMERGENCY_MAIL not in body


def test_an_approval_at_each_stage_is_mailed(suite, smtp):
    app_id = submit(suite, CHIYODA)
    number = f"2026-{app_id:06d}"
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    msg = wait_for(lambda: [m for m in smtp.recorder.to("taro@example.lg.jp")
                            if number in str(m["Subject"])], what="the approval mail")[0]
    assert str(msg["Subject"]) == f"【承認】申請 {number} が一次審査で承認されました"
    assert "は一次審査で承認されました。" in text_of(msg)
    # the opted-out account still gets approvals by mail
    wait_for(lambda: [m for m in smtp.recorder.to("jiro@example.lg.jp")
                      if number in str(m["Subject"])], what="the approval to the second account")


def test_an_account_that_opted_out_of_returns_gets_the_notice_but_no_mail(suite, smtp):
    app_id = submit(suite, CHIYODA)
    number = f"2026-{app_id:06d}"
    assert decide(suite, "demo-pref", app_id, "否認", "理由の記載").status_code == 201
    wait_for(lambda: [m for m in smtp.recorder.to("taro@example.lg.jp")
                      if number in str(m["Subject"])], what="the mail to the other account")
    box = wait_for(lambda: [n for n in notices(suite, OPTED_OUT)["items"]
                            if n["number"] == number], what="the opted-out account's notice")
    assert box[0]["kind"] == "returned"
    assert not [m for m in smtp.recorder.to("jiro@example.lg.jp") if number in str(m["Subject"])]
    assert not [m for m in mails(suite, "jiro@example.lg.jp") if number in m.subject]


def test_reviewers_and_other_organisations_get_no_notice(suite):
    app_id = submit(suite, CHIYODA)
    assert decide(suite, "demo-pref", app_id, "否認", "理由").status_code == 201
    number = f"2026-{app_id:06d}"
    wait_for(lambda: [n for n in notices(suite, APPLICANT)["items"] if n["number"] == number],
             what="the applicant's notice")
    assert not [n for n in notices(suite, "demo-pref")["items"] if n["number"] == number]
    assert not [n for n in notices(suite, "demo-boe")["items"] if n["number"] == number]


def _settled(suite, login: str) -> dict:
    """The inbox once no notice has arrived for a second (earlier tests' notices may
    still be on their way on a loaded machine)."""
    last = notices(suite, login)
    while True:
        time.sleep(1.0)
        now = notices(suite, login)
        if now["unread"] == last["unread"]:
            return now
        last = now


def test_the_inbox_counts_unread_and_marks_one_and_all_read(suite):
    for _ in range(2):
        app_id = submit(suite, CHIYODA)
        assert decide(suite, "demo-pref", app_id, "否認", "理由").status_code == 201
    wait_for(lambda: notices(suite, "demo-applicant")["unread"] >= 2, what="two unread notices")
    box = _settled(suite, "demo-applicant")
    first = box["items"][0]
    res = suite.client.post(f"/api/auth/notifications/{first['id']}/read",
                            headers=suite.headers("demo-applicant"))
    assert res.status_code == 204
    after = notices(suite, "demo-applicant")
    assert after["unread"] == box["unread"] - 1
    assert next(n for n in after["items"] if n["id"] == first["id"])["read_at"]
    # another account's notice is not found
    assert suite.client.post(f"/api/auth/notifications/{first['id']}/read",
                             headers=suite.headers(APPLICANT)).status_code == 404
    res = suite.client.post("/api/auth/notifications/read-all",
                            headers=suite.headers("demo-applicant"))
    assert res.status_code == 200 and res.get_json()["marked"] == after["unread"]
    assert notices(suite, "demo-applicant")["unread"] == 0


def test_every_page_header_shows_the_unread_count_as_text_linking_to_the_inbox(suite):
    app_id = submit(suite, CHIYODA)
    assert decide(suite, "demo-pref", app_id, "否認", "ページで確認する理由").status_code == 201
    number = f"2026-{app_id:06d}"
    wait_for(lambda: [n for n in notices(suite, "demo-forwarder")["items"]
                      if n["number"] == number], what="the forwarder's notice")
    unread = notices(suite, "demo-forwarder")["unread"]
    client = client_for(suite, "demo-forwarder")
    for page in ("/review/", "/auth/account"):
        html = page_text(client.get(page))
        assert f'<a href="/auth/notifications" class="notices-link">お知らせ（未読 {unread} 件）</a>' in html
    html = page_text(client.get("/auth/notifications"))
    assert "ページで確認する理由" in html and "（JST）" in html
    # the applicant's page is no page for the forwarder: its notice has no link (not a 403)
    assert f"/applicant/applications/{app_id}" not in html
    applicant = page_text(client_for(suite, "demo-applicant").get("/auth/notifications"))
    assert f'href="/applicant/applications/{app_id}"' in applicant
    notice = next(n for n in notices(suite, "demo-forwarder")["items"] if n["number"] == number)
    res = post_form(client, "/auth/notifications",
                    f"/auth/notifications/{notice['id']}/read")
    assert res.status_code == 302
    assert f"お知らせ（未読 {unread - 1} 件）" in page_text(client.get("/auth/notifications"))
    res = post_form(client, "/auth/notifications", "/auth/notifications/read-all")
    assert res.status_code == 302
    assert "お知らせ（未読 0 件）" in page_text(client.get("/auth/notifications"))


def test_a_bad_address_is_refused_in_japanese_and_nothing_changes(suite):
    res = suite.client.put("/api/auth/notifications/settings", headers=suite.headers(APPLICANT),
                           json={"email": "taro@@example", "mail_kinds": []})
    assert res.status_code == 422
    error = res.get_json()["error"]
    assert "メールアドレス" in error["message"] and "taro@@example" in error["message"]
    current = suite.client.get("/api/auth/notifications/settings",
                               headers=suite.headers(APPLICANT)).get_json()
    assert current["email"] == "taro@example.lg.jp"
    assert all(k["mail"] for k in current["kinds"])
    client = client_for(suite, APPLICANT)
    res = post_form(client, "/auth/notifications/settings", "/auth/notifications/settings",
                    {"email": "not an address", "mail_kinds": ["returned"]})
    assert res.status_code == 422, page_text(res)
    assert "メールアドレス（email）の形式が正しくありません" in page_text(res)
    current = suite.client.get("/api/auth/notifications/settings",
                               headers=suite.headers(APPLICANT)).get_json()
    assert current["email"] == "taro@example.lg.jp" and all(k["mail"] for k in current["kinds"])


def test_the_settings_page_sets_the_address_and_the_kinds(suite):
    suite.add_user("notice-settings", "131016", "applicant")
    client = client_for(suite, "notice-settings")
    res = post_form(client, "/auth/notifications/settings", "/auth/notifications/settings",
                    {"email": " hanako@example.lg.jp ", "mail_kinds": ["returned", "approved"]})
    assert res.status_code == 302
    current = suite.client.get("/api/auth/notifications/settings",
                               headers=suite.headers("notice-settings")).get_json()
    assert current["email"] == "hanako@example.lg.jp"
    assert {k["kind"] for k in current["kinds"] if k["mail"]} == {"returned", "approved"}


def test_a_settings_change_is_named_in_the_accounts_history(suite):
    suite.add_user("notice-history", "131016", "applicant")
    client = client_for(suite, "notice-history")
    res = post_form(client, "/auth/notifications/settings", "/auth/notifications/settings",
                    {"email": "jiro@example.lg.jp", "mail_kinds": ["returned"]})
    assert res.status_code == 302
    html = page_text(client_for(suite, "demo-operator").get("/auth/accounts/notice-history"))
    history = html[html.index('id="account-history"'):]
    assert "通知設定の変更" in history and "その他の操作" not in history
    assert "notifications_changed" not in html


def test_a_refusing_smtp_server_is_retried_with_backoff_and_each_attempt_recorded(suite, smtp):
    suite.add_user(FLAKY, "131016", "applicant", email="flaky@example.lg.jp")
    smtp.recorder.refuse["flaky@example.lg.jp"] = 2
    app_id = submit(suite, CHIYODA)
    number = f"2026-{app_id:06d}"
    assert decide(suite, "demo-pref", app_id, "否認", "再送の確認").status_code == 201
    retrying = wait_for(lambda: [m for m in mails(suite, "flaky@example.lg.jp")
                                 if number in m.subject and m.attempts >= 1
                                 and m.status != "sent"], what="a failed first attempt")[0]
    assert retrying.last_error and "451" in retrying.last_error
    sent = wait_for(lambda: [m for m in mails(suite, "flaky@example.lg.jp")
                             if number in m.subject and m.status == "sent"],
                    timeout=30, what="the mail sent on its third attempt")[0]
    assert sent.attempts == 3 and sent.sent_at is not None and sent.last_error is None
    assert len([m for m in smtp.recorder.to("flaky@example.lg.jp")
                if number in str(m["Subject"])]) == 1


def test_a_registration_in_the_master_is_mailed_with_the_master_version(suite, smtp):
    from tests.master import approved

    body = approved.payload("131016")
    approved.send(suite, body)
    msg = wait_for(lambda: [m for m in smtp.recorder.to("taro@example.lg.jp")
                            if body["number"] in str(m["Subject"])], what="the registration mail")[0]
    version = approved.newest_version(suite)
    assert str(msg["Subject"]) == (f"【マスタ登録】申請 {body['number']} が"
                                   f"マスタ版 {version} に登録されました")
    text = text_of(msg)
    assert f"申請番号 {body['number']}（東京都千代田区）" in text and f"マスタ版 {version}" in text
    for secret in approved.EMERGENCY_SECRETS:       # 02-02's 緊急連絡先 are in the forms
        assert secret not in msg.as_string()


def test_a_confirmation_request_is_mailed_to_the_delegator(suite, smtp):
    from tests.matching.conftest import query

    intake = suite.ctx("intake")
    with intake.transaction() as session:
        intake.emit(session, "matching", "delegations.submitted", {
            "application_id": 880001, "round": 1, "org_id": "131024",
            "query_delegations": [query(1, ["131016"])], "number": "2026-880001",
            "org_name": "東京都中央区"})
    msg = wait_for(lambda: [m for m in smtp.recorder.to("taro@example.lg.jp")
                            if "委任情報確認依頼" in str(m["Subject"])],
                   what="the confirmation request mail")[0]
    assert str(msg["Subject"]) == "【委任情報確認依頼】東京都中央区から確認の依頼があります"
    text = text_of(msg)
    assert "東京都中央区（申請番号 2026-880001）" in text
    assert "https://nws.example.jp/matching/confirmations" in text


def test_an_issued_account_is_told_at_the_requesters_address(suite, smtp):
    review = suite.ctx("review")
    with review.transaction() as session:
        review.emit(session, "identity", "account.approved", {
            "request_id": 770001, "number": "2026-770001",
            "org": {"id": "271004", "name": "大阪府大阪市", "kind": "政令指定都市",
                    "branch": "executive", "prefecture_code": "270008", "parent_id": None},
            "login": "osaka-new", "role": "applicant", "name": "大阪 花子",
            "department": "デジタル統括室", "email": "hanako@city.osaka.lg.jp",
            "approved_at": "2026-12-01T00:00:00+00:00"})
    msg = wait_for(lambda: smtp.recorder.to("hanako@city.osaka.lg.jp"),
                   what="the account mail")[0]
    assert str(msg["Subject"]) == "【アカウント発行】情報共有サイトのアカウントが発行されました"
    text = text_of(msg)
    assert "大阪府大阪市 のアカウント発行申請（申請番号 2026-770001）" in text
    assert "https://nws.example.jp/auth/activate" in text


def test_applicants_of_returned_cases_are_told_before_and_after_the_deadline(suite, smtp):
    import datetime as dt

    from services.review import cases
    from services.review.schedule import today

    app_id = submit(suite, CHIYODA)
    number = f"2026-{app_id:06d}"
    assert decide(suite, "demo-pref", app_id, "否認", "期限の確認").status_code == 201
    wait_for(lambda: [n for n in notices(suite, APPLICANT)["items"] if n["number"] == number],
             what="the return notice")
    end = today() + dt.timedelta(days=5)
    res = suite.client.put("/api/review/schedule", headers=suite.headers("demo-operator"),
                           json={"phases": [{"phase": "connection_request",
                                             "ends_on": end.isoformat()}]})
    assert res.status_code == 200, res.get_json()
    # the review worker's periodic task: 5 days left is within NWS_DEADLINE_NOTICE_DAYS (7,1)
    near = wait_for(lambda: [m for m in smtp.recorder.to("taro@example.lg.jp")
                             if "期限のお知らせ" in str(m["Subject"]) and number in text_of(m)],
                    what="the deadline notice")
    assert str(near[0]["Subject"]) == "【期限のお知らせ】接続申請の期限まであと 5 日です"
    assert f"接続申請の期限は {end.isoformat()} です（あと 5 日）" in text_of(near[0])
    review = suite.ctx("review")
    with review.transaction() as session:
        assert cases.notify_deadlines(review, session) == 0        # told once
    with review.transaction() as session:
        assert cases.notify_deadlines(review, session, on=end + dt.timedelta(days=1)) >= 1
    passed = wait_for(lambda: [m for m in smtp.recorder.to("taro@example.lg.jp")
                               if "期限超過" in str(m["Subject"]) and number in text_of(m)],
                      what="the deadline-passed notice")
    assert f"接続申請の期限 {end.isoformat()} を過ぎました" in text_of(passed[0])
