"""Confirm, then act: 提出 through its 確認画面 to the receipt (受付完了), a submission
the whole-application check refused, 取下げ with its reason, 承認 / 否認 through their
confirmation page, and one status vocabulary (a withdrawn application is 取下げ for
every role, in the progress chart too, and in the 409 messages)."""
from __future__ import annotations

import re

import pytest

from nws.testing import form_02_06
from services.intake import applications
from services.review import cases
from shared.vocabulary import status_name
from tests import factories
from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, post_form, text_of


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("pages-confirm") / "var")
    yield s
    s.close()


def _valid_draft(suite, forms: dict | None = None, evidence: bool = False) -> int:
    """A draft with every required form saved and validated, not submitted (with
    ``evidence``: a 規約 attached, and 様03-06 saying so)."""
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    forms = forms or factories.all_forms()
    if evidence:
        forms = factories.attach_evidence(suite.client, h, app_id, forms)
    factories.put_forms(suite.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] in ("valid", "invalid")
                         for f in suite.get_app(app_id)["forms"].values()), what="validated")
    return app_id


def test_submit_goes_through_the_confirm_page_to_a_receipt_in_japan_time(suite):
    app_id = _valid_draft(suite, evidence=True)
    client = client_for(suite, "demo-applicant")
    page = f"/applicant/applications/{app_id}"
    html = text_of(client.get(page))
    assert f'href="{page}/submit"' in html          # the application page links to the 確認画面

    confirm = client.get(f"{page}/submit")
    html = text_of(confirm)
    assert confirm.status_code == 200 and "提出内容の確認" in html
    assert 'aria-current="step"' in html and "受付完了" in html
    for code in factories.all_forms():
        assert f'id="confirm-form-{code}"' in html
    assert "誤りなし" in html and "事務の委託に関する規約.pdf" in html and re.search(r"<td[^>]*>[\d.,]+ (KB|バイト)</td>", html)
    assert "審査機関は提出後に決まり" in html
    assert re.search(r'<form method="post" action="[^"]+/submit">\s*<input type="hidden" '
                     r'name="csrf_token"', html) and 'id="confirm-submit"' in html
    assert suite.get_app(app_id)["status"] == "draft"   # looking does not submit

    res = post_form(client, f"{page}/submit", f"{page}/submit")
    assert res.status_code == 302 and "/receipts/" in res.headers["Location"]
    receipt = text_of(client.get(res.headers["Location"]))
    number = suite.get_app(app_id)["number"]
    assert "<h1 id=\"receipt-h\">受付完了</h1>" in receipt
    assert f"<strong>{number}</strong>" in receipt
    assert re.search(r'id="receipt-at">\d{4}年\d\d月\d\d日 \d\d時\d\d分\d\d秒（日本時間）', receipt)
    assert "様02-01（第1版）" in receipt and "添付資料 1 件" in receipt
    assert 'class="no-print"' in receipt

    suite.wait_status(app_id, "primary_review")
    html = text_of(client.get(page))
    link = re.search(r'href="(/applicant/applications/\d+/receipts/1)">受付票 1: 第1回提出', html)
    assert link and link.group(1) == res.headers["Location"]   # reachable again later
    assert "受付済（審査へ回りました）" in text_of(client.get(link.group(1)))


def test_the_confirm_page_lists_what_blocks_a_submission_with_links_and_no_button(suite):
    forms = factories.all_forms()
    del forms["02-02"]
    app_id = _valid_draft(suite, forms)
    client = client_for(suite, "demo-applicant")
    page = f"/applicant/applications/{app_id}"
    html = text_of(client.get(f"{page}/submit"))
    assert 'id="blocking"' in html and "様02-02が提出されていません。" in html
    assert f'href="{page}/forms/02-02"' in html
    assert 'id="confirm-submit"' not in html


def test_a_submission_the_whole_application_check_refuses_shows_a_banner_with_links(suite):
    forms = factories.all_forms()
    forms["02-06"] = form_02_06(reporter={"title": "情報政策担当部長", "name": "佐藤 花子"})
    app_id = _valid_draft(suite, forms)
    assert suite.get_app(app_id)["forms"]["02-06"]["status"] == "valid"
    client = client_for(suite, "demo-applicant")
    page = f"/applicant/applications/{app_id}"
    res = post_form(client, f"{page}/submit", f"{page}/submit")
    assert res.status_code == 302
    wait_for(lambda: suite.get_app(app_id)["history"][-1]["event"] == "validation_failed",
             what="the whole-application check")
    app = suite.get_app(app_id)
    assert app["status"] == "draft" and app["forms"]["02-06"]["status"] == "invalid"

    html = text_of(client.get(page))
    banner = re.search(r'<section class="flash error" role="alert" id="refused".*?</section>',
                       html, re.S).group(0)
    assert "提出できませんでした" in banner
    assert f'href="{page}/forms/02-06#f-reporter"' in banner
    assert "情報システム責任者" in banner and "様02-06 安全管理措置確認結果報告書の該当箇所を開く" in banner
    assert "02-06.reporter" not in banner          # no field paths on a page
    row = re.search(r'<tr id="form-02-06">.*?</tr>', html, re.S).group(0)
    assert "誤りあり" in row and "誤りなし" not in row
    # the receipt of that submission says it was not accepted, with the same links
    receipt = text_of(client.get(res.headers["Location"]))
    assert "提出できませんでした" in receipt and "#f-reporter" in receipt


def test_withdrawal_asks_to_confirm_refuses_a_long_reason_and_keeps_the_reason(suite):
    app_id = _valid_draft(suite)
    client = client_for(suite, "demo-applicant")
    page = f"/applicant/applications/{app_id}"
    assert f'href="{page}/withdraw"' in text_of(client.get(page))
    html = text_of(client.get(f"{page}/withdraw"))
    assert "申請の取下げ" in html and 'id="withdraw-reason"' in html
    assert suite.get_app(app_id)["status"] == "draft"

    long = "理" * 1001
    res = post_form(client, f"{page}/withdraw", f"{page}/withdraw", {"reason": long})
    html = text_of(res)
    assert res.status_code == 422
    assert 'aria-invalid="true" aria-describedby="withdraw-reason-error"' in html
    assert "1,000 文字以内で入力してください（現在 1,001 文字）" in html
    assert f">{long}</textarea>" in html
    assert suite.get_app(app_id)["status"] == "draft"

    reason = "組織再編のため申請し直します。"
    res = post_form(client, f"{page}/withdraw", f"{page}/withdraw", {"reason": reason})
    assert res.status_code == 302
    app = suite.get_app(app_id)
    assert app["status"] == "withdrawn"
    assert [h["comment"] for h in app["history"] if h["event"] == "withdrawn"] == [reason]
    history = re.search(r'<table class="history[^"]*">.*?</table>', text_of(client.get(page)),
                        re.S).group(0)
    assert reason in history and "取下げ" in history


def test_the_api_withdrawal_takes_a_reason_and_refuses_one_too_long(suite):
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    url = f"/api/intake/applications/{app_id}/withdraw"
    res = suite.client.post(url, json={"reason": "x" * 1001}, headers=h)
    assert res.status_code == 422
    error = res.get_json()["error"]
    assert error["code"] == "reason_too_long" and error["details"]["field"] == "reason"
    assert suite.get_app(app_id)["status"] == "draft"
    res = suite.client.post(url, json={"reason": "重複して作成したため"}, headers=h)
    assert res.status_code == 200
    assert suite.get_app(app_id)["history"][-1]["comment"] == "重複して作成したため"


def _to_primary_review(suite) -> int:
    app_id = _valid_draft(suite)
    res = suite.client.post(f"/api/intake/applications/{app_id}/submit",
                            headers=suite.headers("demo-applicant"))
    assert res.status_code == 202
    suite.wait_status(app_id, "primary_review")
    return app_id


def test_approval_needs_its_confirmation_step(suite):
    app_id = _to_primary_review(suite)
    pref = client_for(suite, "demo-pref")
    page = f"/review/applications/{app_id}"
    asked = post_form(pref, page, f"{page}/decision", {"result": "承認", "comment": "確認済み"})
    html = text_of(asked)
    assert asked.status_code == 200 and "判定の確認" in html
    assert "二次審査（総務省）へ送ります" in html and 'id="confirm-decision"' in html
    assert 'name="comment" value="確認済み"' in html
    assert suite.get_app(app_id)["status"] == "primary_review"   # nothing decided yet

    back = post_form(pref, page, f"{page}/decision",
                     {"result": "承認", "comment": "確認済み", "back": "1"})
    assert back.status_code == 200 and ">確認済み</textarea>" in text_of(back)

    done = post_form(pref, page, f"{page}/decision",
                     {"result": "承認", "comment": "確認済み", "confirmed": "yes"})
    assert done.status_code == 302
    suite.wait_status(app_id, "secondary_review")


def test_a_rejection_without_reason_is_refused_before_the_confirmation(suite):
    app_id = _to_primary_review(suite)
    pref = client_for(suite, "demo-pref")
    page = f"/review/applications/{app_id}"
    res = post_form(pref, page, f"{page}/decision", {"result": "否認"})
    assert res.status_code == 422 and 'id="confirm-decision"' not in text_of(res)
    asked = post_form(pref, page, f"{page}/decision", {"result": "否認", "comment": "不備あり"})
    assert "申請者に通知されます" in text_of(asked)
    assert suite.get_app(app_id)["status"] == "primary_review"


def _progress_counts(client, name: str) -> dict[str, str]:
    html = text_of(client.get("/review/progress"))
    table = re.search(r'<table id="progress-table">.*?</table>', html, re.S).group(0)
    heads = re.findall(r'<th scope="col">([^<]*)</th>', table)
    row = re.search(rf'<tr><td><a [^>]*>{name}</a></td>(.*?)</tr>', table, re.S).group(1)
    return dict(zip(heads[1:], re.findall(r"<td>(?:<span[^>]*>)?([^<]*)", row)))


def test_a_withdrawn_application_is_torisage_for_the_operator_and_the_chart(suite):
    """Returned, resubmitted, withdrawn before the resubmission reached review: the
    returned case of the earlier round ends as 取下げ too, not 差戻し."""
    app_id = _to_primary_review(suite)
    res = suite.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={"result": "否認", "comment": "修正してください"},
                            headers=suite.headers("demo-pref"))
    assert res.status_code == 201
    suite.wait_status(app_id, "returned")
    operator = client_for(suite, "demo-operator")
    before = _progress_counts(operator, "東京都")
    # the report intake sends when the resubmitted round (2) is withdrawn while it is
    # still being validated, before it reached review
    ctx = suite.ctx("review")
    with ctx.transaction() as session:
        cases.withdraw(ctx, session, {"application_id": app_id, "round": 2,
                                      "at": "2026-04-01T00:00:00+00:00", "reason": "取り下げます",
                                      "actor": {"login": "demo-applicant", "org_id": "131016",
                                                "name": "申請 太郎"}})
    html = text_of(operator.get(f"/review/applications/{app_id}"))
    state = re.search(r'<th scope="row">状態</th><td>(.*?)</td>', html, re.S).group(1)
    assert "取下げ" in state and "差戻し" not in state
    after = _progress_counts(operator, "東京都")
    assert int(after["取下げ"]) == int(before["取下げ"]) + 1
    assert int(after["差戻し"]) == int(before["差戻し"]) - 1
    # the chart's legend and table use the one vocabulary
    chart = text_of(operator.get("/review/progress"))
    for key in ("returned", "withdrawn", "approved", "unroutable"):
        assert f'<th scope="col">{status_name(key)}</th>' in chart


def test_conflict_messages_name_statuses_in_japanese(suite):
    app_id = _valid_draft(suite)
    h = suite.headers("demo-applicant")
    assert suite.client.post(f"/api/intake/applications/{app_id}/withdraw",
                             headers=h).status_code == 200
    res = suite.client.post(f"/api/intake/applications/{app_id}/withdraw", headers=h)
    assert res.status_code == 409
    assert "「取下げ」" in res.get_json()["error"]["message"]
    # the pages say the same, without a button to press
    client = client_for(suite, "demo-applicant")
    page = f"/applicant/applications/{app_id}"
    for url, button in ((f"{page}/withdraw", "confirm-withdraw"), (f"{page}/submit", "confirm-submit")):
        html = text_of(client.get(url))
        assert "申請は現在「取下げ」のため" in html and f'id="{button}"' not in html

    decided = _to_primary_review(suite)
    for login, result in (("demo-pref", "承認"), ("demo-mic", "承認")):
        assert suite.client.post(f"/api/review/applications/{decided}/decisions",
                                 json={"result": result, "comment": "確認"},
                                 headers=suite.headers(login)).status_code == 201
    suite.wait_status(decided, "registered")
    res = suite.client.post(f"/api/review/applications/{decided}/decisions",
                            json={"result": "承認"}, headers=suite.headers("demo-mic"))
    assert res.status_code == 409
    message = res.get_json()["error"]["message"]
    assert "「承認済」" in message and "approved" not in message


@pytest.mark.parametrize("location,place", [
    ("02-06.reporter", {"form": "02-06", "field": "reporter"}),
    ("03-07.query_affairs[1].pia.status", {"form": "03-07", "field": "query_affairs.1.pia.status"}),
    ("03-06", {"form": "03-06", "field": None}),
    ("application", {"form": None, "field": None}),
])
def test_a_whole_application_finding_is_located_at_a_form_field(location, place):
    assert applications.locate(location) == place
