"""The organisation picker in the 様式 web forms without JavaScript (様03-08): 「検索」
posts the whole form and shows the matches keeping everything typed, a chosen
organisation is saved as its code (the same JSON as the API and the workbook), and a code
the registry does not know is refused at its field, nothing stored."""
from __future__ import annotations

import re

import pytest

from tests import factories
from tests.conftest import Suite
from tests.form_data import form_03_08, put_selection_for, query_delegation
from tests.pages.support import client_for, post_webform, text_of, webform_fields

HACHIOJI, CHIYODA = "132012", "131016"
CHAIN = "query_delegations[0].chain"


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("pages-form-picker") / "var", start_worker=False)
    yield s
    s.close()


@pytest.fixture()
def page(suite):
    """A new application of 千代田区 whose selection delegates 別表 項番 九 from 八王子市:
    the page of its 様03-08, and a client logged in."""
    h = suite.headers("demo-applicant")
    factories.withdraw_open(suite.client, h)
    app_id = factories.create_application(suite.client, h)
    put_selection_for(suite.client, h, app_id, form_03_08(query_delegations=[query_delegation()]))
    url = f"/applicant/applications/{app_id}/forms/03-08"
    return app_id, url, client_for(suite, "demo-applicant")


def _stored(suite, app_id: int):
    return suite.get_app(app_id)["forms"].get("03-08")


def test_the_organisation_fields_are_pickers_echoing_the_chosen_name(suite, page):
    _, url, client = page
    html = text_of(client.get(url))
    picker = html[html.index('id="f-query-delegations-0-delegators"'):]
    picker = picker[:picker.index("</fieldset>")]
    assert f'name="query_delegations[0].delegators" value="{HACHIOJI}" checked' in picker
    assert "東京都八王子市" in picker and "機関名または団体コード（一部でも可）" in picker
    assert 'data-search-url="/intake/organisations.json"' in picker
    assert "org_picker.js" in html and 'class="org-code" autocomplete' not in html


def test_search_without_javascript_keeps_what_was_typed_and_choosing_saves_the_code(suite, page):
    app_id, url, client = page
    fields = webform_fields(text_of(client.get(url)))
    # a chain row added without JavaScript: its 委任元 and 委任先 are pickers
    res = post_webform(client, url, fields, _action=f"add:{CHAIN}",
                **{"query_delegations[0].procedure": "認定請求（入力途中）"})
    assert res.status_code == 200 and _stored(suite, app_id) is None
    html = text_of(res)
    assert 'id="f-query-delegations-0-chain-0-from"' in html
    fields = webform_fields(html)
    # 「検索」: the page again with the matches, everything typed kept, nothing stored
    res = post_webform(client, url, fields, org_search=f"{CHAIN}[0].from",
                **{f"{CHAIN}[0].from__pref": "130001", f"{CHAIN}[0].from__q": "八王子",
                   f"{CHAIN}[0].rule_title": "事務の委託に関する規約"})
    assert res.status_code == 200 and _stored(suite, app_id) is None
    html = text_of(res)
    assert 'value="認定請求（入力途中）"' in html and 'value="事務の委託に関する規約"' in html
    picker = html[html.index('id="f-query-delegations-0-chain-0-from"'):]
    picker = picker[:picker.index("</fieldset>")]
    assert "<details class=\"org-search\" open>" in picker and 'value="八王子"' in picker
    assert re.search(rf'<input type="radio" name="{re.escape(CHAIN)}\[0\]\.from" '
                     rf'value="{HACHIOJI}"> 東京都八王子市 <span class="org-code">{HACHIOJI}</span>',
                     picker)
    # choosing it and the applicant as 委任先, then saving: the codes are stored
    fields = webform_fields(html)
    res = post_webform(client, url, fields, **{f"{CHAIN}[0].from": HACHIOJI, f"{CHAIN}[0].to": CHIYODA,
                                        f"{CHAIN}[0].article": "地方自治法第252条の14"})
    assert res.status_code == 302, text_of(res)[:2000]
    stored = suite.client.get(f"/api/intake/applications/{app_id}/forms/03-08",
                              headers=suite.headers("demo-applicant")).get_json()["data"]
    row = stored["query_delegations"][0]
    assert row["delegators"] == [HACHIOJI] and row["procedure"] == "認定請求（入力途中）"
    assert row["chain"] == [{"from": HACHIOJI, "to": CHIYODA, "article": "地方自治法第252条の14",
                             "rule_title": "事務の委託に関する規約"}]
    html = text_of(client.get(url))
    chosen = html[html.index('id="f-query-delegations-0-chain-0-to-chosen"'):]
    assert "東京都千代田区" in chosen[:400] and CHIYODA in chosen[:400]


def test_an_unknown_organisation_code_is_an_error_at_its_field_and_nothing_is_stored(suite, page):
    app_id, url, client = page
    fields = webform_fields(text_of(client.get(url)))
    fields.setlist("query_delegations[0].delegators", [HACHIOJI, "999999"])
    res = post_webform(client, url, fields)
    assert res.status_code == 422 and _stored(suite, app_id) is None
    html = text_of(res)
    tag = re.search(r'<input type="checkbox" name="query_delegations\[0\]\.delegators" '
                    r'value="999999"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag
    assert 'aria-describedby="f-query-delegations-0-delegators-err"' in tag
    err = html[html.index('id="f-query-delegations-0-delegators-err"'):]
    assert "機関「999999」は機関マスタに登録されていません。" in err[:400]
    assert 'href="#f-query-delegations-0-delegators"' in html            # the summary links it
    assert "未登録の機関" in html and f'value="{HACHIOJI}" checked' in html   # kept as chosen
