"""The applicant's pages without a worker: home redirects, 申請前情報選択, form entry,
様式作成 downloads, the public アカウント発行申請 and the operator's reference-data page."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from services.intake import selection
from services.intake.models import Application
from tests.conftest import Suite
from tests import factories
from tests.pages.support import client_for, csrf_of, post_form, post_webform, text_of, webform_fields


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("pages-applicant") / "var", start_worker=False)
    yield s
    s.close()


def _new_application(suite, client) -> int:
    # one open application per organisation: the previous test's draft is withdrawn
    factories.withdraw_open(suite.client, suite.headers("demo-applicant"))
    res = post_form(client, "/applicant/", "/applicant/applications", {"kind": "connection"})
    assert res.status_code == 302
    return int(re.search(r"/applications/(\d+)/selection", res.headers["Location"]).group(1))


def _saved_selection(suite, app_id: int) -> dict:
    with suite.ctx("intake").transaction() as session:
        return selection.describe_selection(session, session.get(Application, app_id))


@pytest.mark.parametrize("login,target", [("demo-applicant", "/applicant/"),
                                          ("demo-forwarder", "/review/"),
                                          ("demo-pref", "/review/"), ("demo-mic", "/review/"),
                                          ("demo-operator", "/master/")])
def test_home_sends_each_role_to_its_pages(suite, login, target):
    res = client_for(suite, login).get("/")
    assert res.status_code == 302 and res.headers["Location"] == target


def test_home_without_login_offers_login_and_the_account_request(suite):
    html = text_of(suite.app.test_client().get("/"))
    assert "ログイン" in html and "/account-requests/new" in html


def test_selection_page_lists_automatic_and_needs_choice_rows_and_saves(suite):
    client = client_for(suite, "demo-applicant")
    app_id = _new_application(suite, client)
    page = f"/applicant/applications/{app_id}/selection"
    html = text_of(client.get(page))
    automatic = re.findall(r'id="q_([^"]+)" name="q_[^"]+" checked', html)
    needs_choice = re.findall(r'id="q_([^"]+)" name="q_[^"]+" >', html)
    assert automatic and needs_choice
    # Keep every automatic row but the first, choose the first needs-choice row.
    form = {f"q_{i}": "on" for i in automatic[1:]}
    form[f"q_{needs_choice[0]}"] = "on"
    res = post_form(client, page, page, form)
    assert res.status_code == 302
    saved = _saved_selection(suite, app_id)
    rows = {r["item_no"]: r["choice"] for r in saved["selection"]["query_affairs"]}
    assert rows[automatic[0]] == "情報照会を行わない"
    assert rows[needs_choice[0]] == "照会する"
    effective = [r["item_no"] for r in saved["effective"]["query_affairs"]]
    assert automatic[0] not in effective and needs_choice[0] in effective
    assert "申請前情報の選択を保存しました。" in text_of(client.get(page))


def test_a_wrong_selection_shows_japanese_errors_and_stores_nothing(suite):
    client = client_for(suite, "demo-applicant")
    app_id = _new_application(suite, client)
    page = f"/applicant/applications/{app_id}/selection"
    res = post_form(client, page, page, {"xq_0": "九", "xqd_0": "999999"})
    assert res.status_code == 422
    html = text_of(res)
    assert "選択内容に誤りがあります。" in html and "機関 999999 は機関マスタに登録されていません。" in html
    assert 'value="999999"' in html  # what was typed is kept
    assert _saved_selection(suite, app_id)["saved"] is False


def _validate_now(suite, app_id: int, code: str) -> None:
    """Run the form's validation as the worker would (this suite has none)."""
    from services.intake import applications as apps

    ctx = suite.ctx("intake")
    payload = {"application_id": app_id}
    with ctx.transaction() as session:
        snapshot = apps.read_form_for_validation(ctx, session, payload)
    findings = apps.run_form_validators(ctx, snapshot)
    with ctx.transaction() as session:
        apps.write_form_findings(ctx, session, payload, {}, snapshot, findings)


def _input_tag(html: str, element_id: str) -> str:
    at = html.index(f'id="{element_id}"')
    return html[html.rindex("<", 0, at):html.index(">", at) + 1]


def test_form_entry_is_a_labelled_web_form_prefilled_without_json(suite):
    client = client_for(suite, "demo-applicant")
    app_id = _new_application(suite, client)
    html = text_of(client.get(f"/applicant/applications/{app_id}/forms/02-01"))
    assert "<textarea" not in html and "JSON" not in html
    assert '<label for="f-system-chief-title">① 情報システム責任者 役職名<span class="required">必須</span>' in html
    assert '<select id="f-request-type" name="request_type"' in html
    assert 'placeholder="YYYY/MM/DD"' in html and 'pattern=' in html and "131016" in html   # the registry's 機関コード
    assert "千代田区" in html                                         # 機関名 shown


def test_form_entry_saves_posted_fields_and_shows_findings_at_their_fields(suite):
    client = client_for(suite, "demo-applicant")
    app_id = _new_application(suite, client)
    page = f"/applicant/applications/{app_id}/forms/02-02"
    fields = webform_fields(text_of(client.get(page)))
    typed = {"application_date": "2026/11/20", "writer.department": "情報政策課",
             "writer.title": "主任", "writer.name": "千代田 一郎",
             "contact_chief.title": "情報政策担当部長", "contact_chief.name": "千代田 花子"}
    # A row added without JavaScript keeps everything typed and saves nothing.
    res = post_webform(client, page, fields, **typed, _action="add:normal_contacts")
    assert res.status_code == 200 and suite.get_app(app_id)["forms"] == {}
    html = text_of(res)
    assert 'value="千代田 花子"' in html and 'name="normal_contacts[0].phone"' in html
    fields = webform_fields(html)
    for key, value in {"normal_contacts[0].priority": "1",
                       "normal_contacts[0].department": "情報政策課",
                       "normal_contacts[0].phone": "12-34",
                       "normal_contacts[0].email": "joho@example.lg.jp"}.items():
        fields[key] = value
    # A value the schema refuses: the same page, the error at its field, nothing stored.
    res = post_webform(client, page, fields, **{"normal_contacts[0].priority": "一"})
    assert res.status_code == 422 and suite.get_app(app_id)["forms"] == {}
    html = text_of(res)
    tag = _input_tag(html, "f-normal-contacts-0-priority")
    assert 'aria-invalid="true"' in tag and 'value="一"' in tag
    assert 'aria-describedby="f-normal-contacts-0-priority-err"' in tag
    assert 'href="#f-normal-contacts-0-priority"' in html and "normal_contacts" not in html.split('id="webform"')[0]
    assert 'value="12-34"' in html and 'value="千代田 花子"' in html
    # Saved: through the API's domain function; the validators' finding lands at the phone.
    res = post_webform(client, page, fields)
    assert res.status_code == 302 and res.headers["Location"].endswith(page)
    stored = suite.get_app(app_id)["forms"]["02-02"]
    assert stored["revision"] == 1 and stored["status"] == "validating"
    html = text_of(client.get(page))
    assert 'id="validating"' in html and 'aria-live="polite"' in html and "http-equiv" not in html
    _validate_now(suite, app_id, "02-02")
    html = text_of(client.get(page))
    tag = _input_tag(html, "f-normal-contacts-0-phone")
    assert 'aria-invalid="true"' in tag and 'value="12-34"' in tag
    assert "f-normal-contacts-0-phone-err" in tag
    err = html[html.index('id="f-normal-contacts-0-phone-err"'):]
    assert "電話番号「12-34」は" in err[:400]
    assert 'href="#f-normal-contacts-0-phone"' in html
    res = suite.client.get(f"/api/intake/applications/{app_id}/forms/02-02",
                           headers=suite.headers("demo-applicant"))
    saved = res.get_json()["data"]
    assert saved["normal_contacts"] == [{"priority": 1, "department": "情報政策課", "name": "",
                                         "phone": "12-34", "email": "joho@example.lg.jp"}]
    assert saved["contact_chief"] == {"title": "情報政策担当部長", "name": "千代田 花子"}
    # While a form is being validated the application page says so in its polite live
    # region, with a link to look again (no meta refresh).
    post_webform(client, page, fields)
    html = text_of(client.get(f"/applicant/applications/{app_id}"))
    assert 'http-equiv="refresh"' not in html and 'id="progress"' in html
    assert "様式を検証しています。" in html and 'id="refresh-link"' in html


def test_workbooks_download_one_or_the_chosen_forms(suite):
    client = client_for(suite, "demo-applicant")
    app_id = _new_application(suite, client)
    one = client.get(f"/applicant/applications/{app_id}/forms/03-07.xlsx")
    assert one.status_code == 200 and one.data[:2] == b"PK"
    assert "attachment" in one.headers["Content-Disposition"]
    res = client.get(f"/applicant/applications/{app_id}/forms.zip?code=02-01&code=03-08")
    names = zipfile.ZipFile(io.BytesIO(res.data)).namelist()
    assert len(names) == 2 and names[0].endswith("_様02-01.xlsx") and names[1].endswith("_様03-08.xlsx")
    every = zipfile.ZipFile(io.BytesIO(client.get(
        f"/applicant/applications/{app_id}/forms.zip").data)).namelist()
    assert len(every) > 2


def test_account_request_without_login_and_its_receipt(suite):
    client = suite.app.test_client()
    page = "/account-requests/new"
    res = post_form(client, page, page, {"org": "131016", "login": "x"})
    assert res.status_code == 422
    html = text_of(res)
    assert "ログイン名は半角英数字と . _ @ - の 3〜100 文字にしてください。" in html
    # in the summary, linked to the field, and next to the field
    assert '<a href="#name">氏名</a>: 必須項目です。' in html
    assert '<span class="field-error" id="name-error">必須項目です。</span>' in html
    assert re.search(r'id="name" name="name" value=""[^>]* aria-invalid="true"', html)
    res = post_form(client, page, page, {
        "org": "132012", "login": "meguro-joho", "department": "情報政策課", "title": "",
        "name": "目黒 太郎", "email": "joho@example.lg.jp", "phone": "03-1234-5678"})
    assert res.status_code == 201
    html = text_of(res)
    number = re.search(r'id="receipt-number">([^<]+)<', html).group(1)
    token = re.search(r'id="receipt-token"><code>([^<]+)<', html).group(1)
    receipt = "/account-requests/receipt"
    wrong = post_form(client, receipt, receipt, {"number": number, "token": "nope"})
    assert wrong.status_code == 404 and "見つかりません" in text_of(wrong)
    right = post_form(client, receipt, receipt, {"number": number, "token": token})
    assert right.status_code == 200
    assert re.search(r'id="receipt-status"><span class="status status-submitted">提出済',
                     text_of(right))
    assert token not in client.get(receipt).get_data(as_text=True)


def test_operator_loads_reference_data_from_a_page(suite):
    client = client_for(suite, "demo-operator")
    res = post_form(client, "/refdata", "/refdata")
    assert res.status_code == 200
    html = text_of(res)
    assert "内容に変更なし" in html and "例示ファイル" in html
    assert client_for(suite, "demo-applicant").get("/refdata").status_code == 403


def test_csrf_token_is_required_on_the_public_form_too(suite):
    client = suite.app.test_client()
    html = text_of(client.get("/account-requests/new"))
    assert csrf_of(html)
    assert client.post("/account-requests/new", data={"org": "132012"}).status_code == 400


def _account_form(org: str, login: str) -> dict:
    return {"org": org, "login": login, "department": "情報政策課", "title": "",
            "name": "区 太郎", "email": "joho@example.lg.jp", "phone": "03-1234-5678"}


def test_account_request_page_is_limited_per_address_and_per_organisation(suite):
    client = suite.app.test_client()
    page = "/account-requests/new"
    address = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    for n, org in enumerate(["131024", "131032", "131041", "131059", "131067"]):
        res = post_form(client, page, page, _account_form(org, f"page-limit-{n}"), **address)
        assert res.status_code == 201, text_of(res)
    res = post_form(client, page, page, _account_form("131083", "page-limit-6"), **address)
    assert res.status_code == 429 and 1 <= int(res.headers["Retry-After"]) <= 3600
    html = text_of(res)
    assert "申請を受け付けられませんでした。" in html
    assert "同じ接続元からのアカウント発行申請は1 時間あたり 5 回までです。" in html
    assert 'value="131083"' in html          # what was typed is kept
    # One organisation: three requests a day, whichever address they come from.
    for n in range(3):
        res = post_form(client, page, page, _account_form("131091", f"shinagawa-{n}"),
                        environ_base={"REMOTE_ADDR": f"203.0.113.{20 + n}"})
        assert res.status_code == 201, text_of(res)
    res = post_form(client, page, page, _account_form("131091", "shinagawa-3"),
                    environ_base={"REMOTE_ADDR": "203.0.113.30"})
    assert res.status_code == 429 and "機関 131091 のアカウント発行申請は1 日あたり 3 回" in text_of(res)


def test_account_receipt_page_takes_the_token_only_in_a_posted_form(suite):
    html = text_of(suite.app.test_client().get("/account-requests/receipt"))
    assert re.search(r'<form method="post"', html)
    assert 'type="password" id="token" name="token"' in html
    # A token in the URL is not read.
    res = suite.app.test_client().get("/account-requests/receipt?number=A2026-000001&token=x")
    assert res.status_code == 200 and "x" not in re.findall(r'value="([^"]*)"', text_of(res))
