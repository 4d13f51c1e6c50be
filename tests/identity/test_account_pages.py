"""The operators' account pages: list (search, filters, sort, pages of 50), create with
any role, role change and disabling confirmed on a page first, a one-time password
link, every action in identity's audit log; other roles get 403."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from services.identity import organisations
from services.identity.models import Account, AuditLog
from shared.db import utcnow
from tests.pages.support import client_for, csrf_of, post_form, text_of

LIST = "/auth/accounts/"
NEW = "/auth/accounts/new"
GOOD = "saitama-river-passphrase-26"


def _directory(suite, names: dict[str, str]) -> None:
    with suite.ctx("identity").transaction() as session:
        organisations.store(session, {"org_ids": list(names), "names": names,
                                      "generated_at": utcnow().isoformat()})


def _audit(suite, login: str) -> list[str]:
    """The account's audit entries after its creation."""
    with suite.ctx("identity").transaction() as session:
        return [a for a in session.scalars(select(AuditLog.action).where(
            AuditLog.target == f"account:{login}").order_by(AuditLog.seq))
            if a != "account.created" and not a.startswith("login.")]


@pytest.fixture
def operator(idle_suite):
    _directory(idle_suite, {"131016": "東京都千代田区", "131016-BOE": "東京都千代田区教育委員会",
                            "112011": "埼玉県川越市", "130001": "東京都", "MIC": "総務省",
                            "JLIS": "地方公共団体情報システム機構"})
    return client_for(idle_suite, "demo-operator")


def test_only_operators_reach_the_account_pages(idle_suite):
    for who in ("demo-applicant", "demo-forwarder", "demo-pref", "demo-mic"):
        client = client_for(idle_suite, who)
        for url in (LIST, NEW, "/auth/accounts/demo-boe"):
            assert client.get(url).status_code == 403, (who, url)
        res = post_form(client, "/auth/account", "/auth/accounts/demo-boe/active",
                        {"active": "false", "confirmed": "yes"})
        assert res.status_code == 403
    with idle_suite.ctx("identity").transaction() as session:
        assert session.scalar(select(Account.active).where(Account.login == "demo-boe"))


def test_the_list_shows_organisations_by_name_and_roles_in_japanese(idle_suite, operator):
    html = text_of(operator.get(LIST))
    assert "東京都千代田区教育委員会（131016-BOE）" in html
    assert "経由機関" in html and "運用管理者" in html
    assert '<td data-label="役割">経由機関</td>' in html
    assert not re.search(r">\s*(forwarder|applicant|operator|primary_reviewer)\s*<", html)


def test_the_list_searches_filters_sorts_and_pages(idle_suite, operator):
    for n in range(60):
        idle_suite.add_user(f"bulk-{n:03d}", "112011", "applicant", name=f"大量 {n}")
    # by part of the organisation's name
    html = text_of(operator.get(LIST + "?q=川越"))
    assert "60件" in html and "1〜50件目" in html and "bulk-000" in html
    assert "demo-boe" not in html
    html = text_of(operator.get(LIST + "?q=川越&page=2"))
    assert "51〜60件目" in html and "bulk-059" in html and "bulk-000" not in html
    # by code, role, state, sorted descending
    html = text_of(operator.get(LIST + "?q=131016-b"))
    assert "demo-boe" in html and "demo-forwarder" not in html
    html = text_of(operator.get(LIST + "?role=forwarder"))
    assert "demo-forwarder" in html and "demo-applicant" not in html
    html = text_of(operator.get(LIST + "?q=bulk&sort=login&order=desc"))
    assert html.index("bulk-059") < html.index("bulk-058")
    # on a phone the table's headers are hidden: the form sorts as well
    assert re.search(r'<select id="f-sort" name="sort">.*<option value="login" selected>', html)
    assert '<option value="desc" selected>降順</option>' in html
    res = operator.get(LIST + "?state=gone&sort=password")
    assert res.status_code == 422 and "並べ替え（sort）" in text_of(res)


def test_an_operator_creates_a_forwarder_account_for_a_municipality(idle_suite, operator):
    res = post_form(operator, NEW, NEW, {
        "login": "kawagoe-keiyu", "org": "112011", "role": "forwarder", "name": "経由 三郎",
        "department": "情報政策課", "email": "keiyu@example.lg.jp",
        "password": GOOD, "password_confirm": GOOD})
    assert res.status_code == 302 and res.headers["Location"].endswith("/auth/accounts/kawagoe-keiyu")
    html = text_of(operator.get("/auth/accounts/kawagoe-keiyu"))
    assert "埼玉県川越市（112011）" in html and "経由機関" in html
    assert "アカウント作成" in html        # its history
    with idle_suite.ctx("identity").transaction() as session:
        entry = session.scalar(select(AuditLog).where(AuditLog.target == "account:kawagoe-keiyu"))
    assert entry.action == "account.created" and entry.actor_login == "demo-operator"
    res = idle_suite.client.post("/api/auth/token", json={"login": "kawagoe-keiyu",
                                                          "password": GOOD})
    assert res.status_code == 200


def test_bad_input_comes_back_beside_its_field_and_nothing_is_stored(idle_suite, operator):
    values = {"login": "kawagoe-keiyu", "org": "999999", "role": "forwarder", "name": "経由",
              "department": "", "email": "", "password": GOOD, "password_confirm": GOOD}
    res = post_form(operator, NEW, NEW, values)
    assert res.status_code == 422
    html = text_of(res)
    org_input = re.search(r'<input[^>]*id="org"[^>]*>', html).group(0)
    assert 'aria-describedby="org-help new-error"' in org_input
    assert 'aria-invalid="true"' in org_input and org_input.count("aria-describedby") == 1
    assert "機関マスタにありません" in html and 'value="kawagoe-keiyu"' in html
    res = post_form(operator, NEW, NEW, {**values, "org": "112011",
                                         "password": "password1234", "password_confirm": "password1234"})
    assert res.status_code == 422 and "よく使われている" in text_of(res)
    assert re.search(r'id="password"[^>]*aria-invalid="true"', text_of(res))
    res = post_form(operator, NEW, NEW, {**values, "org": "112011", "login": "demo-boe"})
    assert res.status_code == 422 and "既に使われています" in text_of(res)
    with idle_suite.ctx("identity").transaction() as session:
        assert session.scalar(select(Account).where(Account.login == "kawagoe-keiyu")) is None


def test_disabling_is_confirmed_first_then_ends_the_account(idle_suite, operator):
    page = "/auth/accounts/demo-boe"
    res = post_form(operator, page, page + "/active", {"active": "false"})
    assert res.status_code == 200 and "アカウントを無効にしますか" in text_of(res)
    assert _audit(idle_suite, "demo-boe") == []           # nothing done yet
    res = operator.post(page + "/active", data={"active": "false", "confirmed": "yes",
                                                "csrf_token": csrf_of(text_of(res))})
    assert res.status_code == 302
    assert "無効" in text_of(operator.get(page))
    assert idle_suite.client.post("/api/auth/token", json={
        "login": "demo-boe", "password": "demo-pass-2026"}).status_code != 200
    res = post_form(operator, page, page + "/active", {"active": "true"})
    assert res.status_code == 302
    assert _audit(idle_suite, "demo-boe") == ["account.disabled", "account.enabled"]


def test_a_role_change_is_confirmed_first_and_recorded(idle_suite, operator):
    page = "/auth/accounts/demo-applicant"
    res = post_form(operator, page, page + "/role", {"role": "forwarder"})
    assert res.status_code == 200 and "役割を変更しますか" in text_of(res)
    assert '<strong id="new-role">経由機関</strong>' in text_of(res)
    res = operator.post(page + "/role", data={"role": "forwarder", "confirmed": "yes",
                                              "csrf_token": csrf_of(text_of(res))})
    assert res.status_code == 302
    html = text_of(operator.get(page))
    assert "役割の変更（申請者 → 経由機関）" in html
    assert _audit(idle_suite, "demo-applicant") == ["account.role_changed"]


def test_an_operator_cannot_disable_their_own_account(idle_suite, operator):
    page = "/auth/accounts/demo-operator"
    res = post_form(operator, "/auth/accounts/demo-boe", page + "/active",
                    {"active": "false", "confirmed": "yes"})
    assert res.status_code == 422 and "自分自身" in text_of(res)
    assert _audit(idle_suite, "demo-operator") == []


def test_a_password_link_is_shown_once_and_sets_the_password(idle_suite, operator):
    page = "/auth/accounts/demo-pref"
    res = post_form(operator, page, page + "/password-link")
    assert res.status_code == 200
    token = re.search(r'<code id="link-token">([^<]+)</code>', text_of(res)).group(1)
    assert "メールは送信していません" in text_of(res)
    assert token not in text_of(operator.get(page))      # shown once
    new = "tokyo-new-passphrase-2026"
    res = idle_suite.client.post("/api/auth/activate", json={"token": token, "password": new})
    assert res.status_code == 200, res.get_json()
    assert idle_suite.client.post("/api/auth/token", json={
        "login": "demo-pref", "password": new}).status_code == 200
    assert _audit(idle_suite, "demo-pref") == ["account.password_link_issued",
                                                "account.password_reset"]


def test_a_password_link_is_mailed_when_the_account_has_an_address(idle_suite, operator):
    from services.identity.models import Mail, Notification

    idle_suite.add_user("mail-user", "112011", "applicant", email="mail-user@example.lg.jp")
    page = "/auth/accounts/mail-user"
    res = post_form(operator, page, page + "/password-link")
    token = re.search(r'<code id="link-token">([^<]+)</code>', text_of(res)).group(1)
    assert "登録されたメールアドレスにも送信しました" in text_of(res)
    with idle_suite.ctx("identity").transaction() as session:
        mail = session.scalar(select(Mail))
        notice = session.scalar(select(Notification))
    assert mail.to_address == "mail-user@example.lg.jp" and token in mail.body
    assert token not in notice.body           # the inbox copy never holds the token


def test_sessions_end_and_a_login_lock_is_lifted_from_the_page(idle_suite, operator):
    page = "/auth/accounts/demo-jlis"
    idle_suite.client.post("/api/auth/token", json={"login": "demo-jlis", "password": "wrong"})
    html = text_of(operator.get(page))
    assert "連続 1 回" in html and "ログイン制限を解除する" in html
    assert post_form(operator, page, page + "/lock").status_code == 302
    assert post_form(operator, page, page + "/sessions").status_code == 302
    assert "連続 0 回" in text_of(operator.get(page))
    assert _audit(idle_suite, "demo-jlis") == ["account.unlocked", "account.sessions_ended"]


def test_an_issued_account_never_activated_gets_a_new_activation_link(idle_suite, operator):
    from tests.identity.test_activation import approved, issue

    issue(idle_suite, approved())                 # its receipt's link is lost
    page = "/auth/accounts/hakodate-joho"
    html = text_of(operator.get(page))
    assert "有効化待ち（パスワード未設定）" in html and "有効化リンク（発行申請）" in html
    assert 'id="disable"' in html and 'id="enable"' not in html
    assert '<td data-label="操作した人">システム</td>' in html
    res = post_form(operator, page, page + "/password-link")
    token = re.search(r'<code id="link-token">([^<]+)</code>', text_of(res)).group(1)
    assert "パスワード設定用のリンク、期限" in text_of(res)      # the receipt's link ended
    res = idle_suite.client.post("/api/auth/activate", json={
        "token": token, "password": "hakodate-harbour-2026"})
    assert res.status_code == 200
    assert idle_suite.client.post("/api/auth/token", json={
        "login": "hakodate-joho", "password": "hakodate-harbour-2026"}).status_code == 200
    assert _audit(idle_suite, "hakodate-joho") == ["account.issued",
                                                    "account.password_link_issued",
                                                    "account.activated"]


def test_a_disabled_account_gets_no_password_link(idle_suite, operator):
    page = "/auth/accounts/demo-boe"
    post_form(operator, page, page + "/active", {"active": "false", "confirmed": "yes"})
    html = text_of(operator.get(page))
    assert 'id="issue-link"' not in html
    res = post_form(operator, page, page + "/password-link")
    assert res.status_code == 422 and "先に有効にしてください" in text_of(res)
    assert "account.password_link_issued" not in _audit(idle_suite, "demo-boe")
