"""The 申請前情報選択 page and the organisation picker without JavaScript: forms are made
from what the page shows (saved first, never from stale choices), errors are on their
row and linked from the summary, organisations are searched and picked (委任元, 相手方,
the アカウント発行申請's 機関), never typed as codes."""
from __future__ import annotations

import re

import pytest

from services.intake import registry, selection
from services.intake.models import Application
from tests import factories
from tests.conftest import Suite
from tests.pages.support import client_for, csrf_of, post_form, text_of

ITEM = "九"          # an automatic 市町村長 affair of 131016 (千代田区)
HACHIOJI = "132012"  # 東京都八王子市: a 市, so it may be the 委任元 of 九


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("pages-selection") / "var", start_worker=False)
    yield s
    s.close()


@pytest.fixture
def page(suite):
    """A new application's selection page: (client, url, app id)."""
    client = client_for(suite, "demo-applicant")
    factories.withdraw_open(suite.client, suite.headers("demo-applicant"))
    app_id = factories.create_application(suite.client, suite.headers("demo-applicant"))
    return client, f"/applicant/applications/{app_id}/selection", app_id


def _shown(client, url: str) -> dict:
    """The page's fields as a browser posts them untouched (checked boxes, selects)."""
    html = text_of(client.get(url))
    form = {"csrf_token": csrf_of(html)}
    for name in re.findall(r'<input type="checkbox" id="[^"]+" name="((?:q|p)_[^"]+)" checked', html):
        form[name] = "on"
    for name, value in re.findall(r'<select id="[^"]+" name="((?:qm|pm)_[^"]+)"[^>]*>\s*'
                                  r'(?:<option value="[^"]*" >[^<]*</option>\s*)*'
                                  r'<option value="([^"]*)" selected', html):
        form[name] = value
    return form


def _saved(suite, app_id: int) -> dict:
    with suite.ctx("intake").transaction() as session:
        return selection.describe_selection(session, session.get(Application, app_id))


def _delegated(form: dict, *orgs: str) -> dict:
    return {**form, f"q_{ITEM}": "on", f"qm_{ITEM}": "受任事務", f"qd_{ITEM}": list(orgs)}


def test_making_forms_saves_the_choices_on_the_page_first(suite, page):
    client, url, app_id = page
    form = _shown(client, url)
    first = next(k for k in form if k.startswith("q_"))
    del form[first]                                      # a change not saved yet
    res = client.post(url, data={**form, "code": ["03-07", "03-08"], "make_forms": "1"})
    assert res.status_code == 303
    assert res.headers["Location"].endswith(
        f"/applicant/applications/{app_id}/forms.zip?code=03-07&code=03-08")
    rows = {r["item_no"]: r["choice"] for r in _saved(suite, app_id)["selection"]["query_affairs"]}
    assert rows[first[2:]] == "情報照会を行わない"
    assert client.get(res.headers["Location"]).data[:2] == b"PK"
    # one form: saved, then that workbook
    res = client.post(url, data={**form, f"q_{first[2:]}": "on", "make_form": "03-07"})
    assert res.status_code == 303 and res.headers["Location"].endswith("/forms/03-07.xlsx")
    rows = {r["item_no"]: r["choice"] for r in _saved(suite, app_id)["selection"]["query_affairs"]}
    assert rows[first[2:]] == "照会する"


def test_no_forms_are_made_from_choices_that_cannot_be_saved(suite, page):
    client, url, app_id = page
    form = _delegated(_shown(client, url))                    # 受任事務 without 委任元
    res = client.post(url, data={**form, "code": ["03-07"], "make_forms": "1"})
    assert res.status_code == 422 and "Location" not in res.headers
    html = text_of(res)
    assert "保存していません（様式も作成していません）" in html
    assert _saved(suite, app_id)["saved"] is False
    # no form chosen: nothing saved either, the error next to the list of forms
    res = client.post(url, data={**_shown(client, url), "make_forms": "1"})
    assert res.status_code == 422 and _saved(suite, app_id)["saved"] is False
    assert 'id="err-forms">作成する様式を1つ以上選んでください' in text_of(res)


def test_errors_are_shown_on_their_row_and_linked_from_the_summary(suite, page):
    client, url, app_id = page
    form = _delegated(_shown(client, url))
    first_auto = next(k for k in form if k.startswith("q_") and k != f"q_{ITEM}")
    del form[first_auto]                                     # typed, must be kept
    res = client.post(url, data=form)
    assert res.status_code == 422
    html = text_of(res)
    assert (f'<a href="#row-q-{ITEM}">情報照会 項番 {ITEM}</a>: '
            "受任事務には委任元機関を1つ以上指定してください。") in html
    assert f'<tr id="row-q-{ITEM}" class="has-error">' in html
    assert re.search(f'<div class="field-error" id="err-q-{ITEM}"><p>受任事務には委任元機関', html)
    for control in (f'name="q_{ITEM}" checked aria-invalid="true" aria-describedby="err-q-{ITEM}"',
                    f'name="qm_{ITEM}" class="auto-width" aria-invalid="true" aria-describedby="err-q-{ITEM}"',
                    f'name="qd_{ITEM}__q" value="" class="org-q" maxlength="100" '
                    f'aria-invalid="true" aria-describedby="err-q-{ITEM}"'):
        assert control in html
    # the row's organisation search is open, the group with the error too (counting
    # it); nothing is a field path
    assert re.search(rf'id="org-qd-{ITEM}"(?:(?!</fieldset>).)*<details class="org-search" open>',
                     html, re.S)
    assert re.search(r'<details class="rows" id="group-q-auto" open>.*?誤り 1件', html, re.S)
    assert "query_affairs" not in html and "delegators" not in html
    assert f'name="{first_auto}" >' in html                   # still unticked
    assert f'<option value="受任事務" selected>' in html
    assert _saved(suite, app_id)["saved"] is False


def test_picker_search_without_javascript_offers_organisations_by_name(suite, page):
    client, url, app_id = page
    form = _delegated(_shown(client, url))
    first_auto = next(k for k in form if k.startswith("q_") and k != f"q_{ITEM}")
    del form[first_auto]
    res = client.post(url, data={**form, f"qd_{ITEM}__pref": "130001",
                                 f"qd_{ITEM}__q": "八王子", "org_search": f"qd_{ITEM}"})
    assert res.status_code == 200
    html = text_of(res)
    assert re.search(rf'<input type="checkbox" name="qd_{ITEM}" value="{HACHIOJI}"> '
                     rf'東京都八王子市 <span class="org-code">{HACHIOJI}</span>', html)
    assert "東京都八王子市教育委員会" in html and "2件" in html
    assert f'value="八王子"' in html and '<option value="130001" selected>東京都</option>' in html
    assert f'name="{first_auto}" >' in html                   # what was changed is kept
    assert _saved(suite, app_id)["saved"] is False            # a search stores nothing


def test_the_chosen_organisation_is_saved_and_shown_by_name(suite, page):
    client, url, app_id = page
    form = _delegated(_shown(client, url), HACHIOJI)
    assert client.post(url, data=form).status_code == 302
    row = next(r for r in _saved(suite, app_id)["selection"]["query_affairs"]
               if r["item_no"] == ITEM)
    assert row == {"item_no": ITEM, "choice": "受任事務", "delegators": [HACHIOJI]}
    html = text_of(client.get(url))
    assert re.search(rf'<input type="checkbox" name="qd_{ITEM}" value="{HACHIOJI}" checked>\s*'
                     rf'東京都八王子市 <span class="org-code">{HACHIOJI}</span>', html)
    assert f"東京都八王子市（{HACHIOJI}）" in html             # the saved rows, by name


def test_an_unknown_organisation_is_an_error_on_its_row(suite, page):
    client, url, app_id = page
    res = client.post(url, data=_delegated(_shown(client, url), "999999"))
    assert res.status_code == 422
    html = text_of(res)
    assert "機関 999999 は機関マスタに登録されていません。" in html
    assert re.search(rf'name="qd_{ITEM}" value="999999" checked aria-invalid="true" '
                     rf'aria-describedby="err-q-{ITEM}">\s*<span class="error">未登録の機関</span>', html)
    assert _saved(suite, app_id)["saved"] is False


def test_the_page_is_grouped_with_counts(suite, page):
    client, url, _ = page
    html = text_of(client.get(url))
    with suite.ctx("intake").transaction() as session:
        from services.intake import catalog
        from services.intake.models import Organisation

        cat = catalog.catalog_for(session, session.get(Organisation, "131016"))
    automatic = sum(e.automatic for e in cat.affairs.values())
    assert re.search(rf'<details class="rows" id="group-q-auto">.*?{automatic}件中 照会する '
                     rf'{automatic}件', html, re.S)              # the defaults: closed
    assert '<details class="rows" id="group-q-pick" open>' in html   # to decide: open
    # no more than one prefecture list per picker, no list of every organisation
    assert html.count("<option") < 60 * (len(cat.affairs) + len(cat.info) + 6)
    assert "八王子" not in html


# --- アカウント発行申請 ----------------------------------------------------------------------

ACCOUNT = {"login": "picker-test", "department": "情報政策課", "title": "",
           "name": "区 太郎", "email": "joho@example.lg.jp", "phone": "03-1234-5678"}


def _account_requests(suite) -> int:
    from sqlalchemy import func, select

    with suite.ctx("intake").transaction() as session:
        return session.scalar(select(func.count(Application.id)).where(
            Application.kind == "account"))


def test_account_request_finds_the_organisation_without_javascript(suite):
    client = suite.app.test_client()
    url = "/account-requests/new"
    before = _account_requests(suite)
    res = post_form(client, url, url, {**ACCOUNT, "org__pref": "13", "org__q": "八王子",
                                       "org_search": "org"})
    assert res.status_code == 200
    html = text_of(res)
    assert re.search(rf'<input type="radio" name="org" value="{HACHIOJI}"> 東京都八王子市', html)
    assert 'value="picker-test"' in html and 'value="区 太郎"' in html
    assert _account_requests(suite) == before                   # nothing filed


def test_account_request_refuses_an_organisation_of_another_prefecture(suite):
    client = suite.app.test_client()
    url = "/account-requests/new"
    with suite.ctx("intake").transaction() as session:
        osaka = registry.prefecture_code(session, "大阪府")
    res = post_form(client, url, url, {**ACCOUNT, "org": HACHIOJI, "org__pref": osaka})
    assert res.status_code == 422
    html = text_of(res)
    assert ('<p class="field-error" id="org-org-error">東京都八王子市（132012）は選択した都道府県'
            '（大阪府）の機関ではありません。') in html
    assert re.search(rf'name="org" value="{HACHIOJI}" checked aria-invalid="true" '
                     r'aria-describedby="org-org-error"', html)
    assert 'value="picker-test"' in html and 'value="joho@example.lg.jp"' in html
    assert '<a href="#org-org">機関</a>' in html


def test_account_request_refuses_an_unknown_or_missing_organisation(suite):
    client = suite.app.test_client()
    url = "/account-requests/new"
    res = post_form(client, url, url, {**ACCOUNT, "org": "999999"})
    assert res.status_code == 422
    assert 'id="org-org-error">機関「999999」は機関マスタに登録されていません。' in text_of(res)
    res = post_form(client, url, url, ACCOUNT)
    assert res.status_code == 422
    assert 'id="org-org-error">機関を選んでください' in text_of(res)
