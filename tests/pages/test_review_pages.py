"""Reviewer, 総務省, operator and matching pages with a worker: forms as readable tables,
decisions (a 否認 needs a reason), return and resubmission, queue filters and overdue
marks, the progress and schedule charts, confirmation requests, the delegation graph and
the master pages."""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl

import pytest

from tests import factories
from tests.conftest import Suite, wait_for
from tests.form_data import form_03_08, put_selection_for, query_delegation
from tests.pages.support import client_for, post_form, text_of
from tests.test_lifecycle_embedded import prepare_submitted


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("pages-review") / "var",
              # a subscriber on this machine
              env={"NWS_OUTBOUND_ALLOW": "127.0.0.0/8"})
    s.add_user("meguro", "132012", "applicant")
    yield s
    s.close()


def _decide(client, app_id: int, result: str, comment: str = "", **extra):
    """The decision as a reviewer makes it: the case page's form, then the confirmation
    page's button (the first answer when the confirmation page is not reached)."""
    page = f"/review/applications/{app_id}"
    data = {"result": result, "comment": comment, **extra}
    asked = post_form(client, page, f"{page}/decision", data)
    if asked.status_code != 200 or 'id="confirm-decision"' not in text_of(asked):
        return asked
    return post_form(client, page, f"{page}/decision", {**data, "confirmed": "yes"})


def _submitted_with_delegation(suite) -> int:
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    forms = factories.all_forms()
    forms["03-08"] = form_03_08(query_delegations=[query_delegation()])
    put_selection_for(suite.client, h, app_id, forms["03-08"])
    forms = factories.attach_evidence(suite.client, h, app_id, forms)
    factories.put_forms(suite.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] == "valid"
                         for f in suite.get_app(app_id)["forms"].values()), what="valid")
    page = f"/applicant/applications/{app_id}"
    client = client_for(suite, "demo-applicant")
    assert post_form(client, page, f"{page}/submit").status_code == 302
    return app_id


def test_reviewer_reads_each_form_as_a_table_with_history(suite):
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    html = text_of(client_for(suite, "demo-pref").get(f"/review/applications/{app_id}"))
    assert html.count('class="form-fields"') == len(factories.all_forms())
    row = re.search(r"① 情報システム責任者 氏名</th><td>([^<]*)</td>", html)
    assert row and row.group(1) == "山田 一郎"
    assert "通常連絡先（平日昼間）" in html and "joho@example.lg.jp" in html
    assert '<caption class="vh">履歴</caption>' in html and "審査機関の決定" in html
    assert "委任情報の突合結果" not in html  # matching results are for 総務省


def test_a_rejection_needs_a_reason_returns_and_the_applicant_resubmits(suite):
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    pref = client_for(suite, "demo-pref")
    res = _decide(pref, app_id, "否認")
    assert res.status_code == 422
    assert "否認する場合は具体的な理由をコメントに記入してください。" in text_of(res)
    assert suite.get_app(app_id)["status"] == "primary_review"
    assert _decide(pref, app_id, "否認", "責任者の役職名が誤っています。").status_code == 302
    suite.wait_status(app_id, "returned")

    applicant = client_for(suite, "demo-applicant")
    html = text_of(applicant.get(f"/applicant/applications/{app_id}"))
    reason = re.search(r'id="return-reason">(.*?)</div>', html, re.S).group(1)
    assert "一次審査 否認" in reason and "責任者の役職名が誤っています。" in reason
    assert "再提出の内容を確認する" in html
    page = f"/applicant/applications/{app_id}"
    assert post_form(applicant, page, f"{page}/submit").status_code == 302
    app = suite.wait_status(app_id, "primary_review")
    assert app["round"] == 2


def test_queue_filters_and_overdue_marks_against_the_operators_schedule(suite):
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    operator = client_for(suite, "demo-operator")
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    res = post_form(operator, "/review/progress", "/review/schedule",
                    {"starts_primary": "2026-01-05", "ends_primary": yesterday,
                     "ends_secondary": "2099-03-31"})
    assert res.status_code == 302
    bad = post_form(operator, "/review/progress", "/review/schedule",
                    {"ends_primary": "2026/13/01"})
    assert bad.status_code == 422 and "日付は YYYY-MM-DD の形式で入力してください。" in text_of(bad)
    # the API's rule and message, on the page too
    bad = post_form(operator, "/review/progress", "/review/schedule",
                    {"starts_primary": "2027-04-01", "ends_primary": "2027-03-31"})
    assert bad.status_code == 422 and "一次審査: 期限は開始日以降の日付にしてください。" in text_of(bad)

    pref = client_for(suite, "demo-pref")
    queue = text_of(pref.get("/review/"))
    row = re.search(rf'<tr class="late">\s*<td data-label="申請番号"><a href="/review/applications/{app_id}">', queue)
    assert row and "期限超過" in queue
    assert f"/review/applications/{app_id}\"" in text_of(pref.get("/review/?overdue=true"))
    assert f"/review/applications/{app_id}\"" not in text_of(pref.get("/review/?kind=change"))
    bad = pref.get("/review/?status=nonsense")
    assert bad.status_code == 422 and "状態（status）に「nonsense」は指定できません。" in text_of(bad)

    html = text_of(operator.get("/review/progress"))
    assert '<svg id="schedule-chart"' in html and '<svg id="progress-chart"' in html
    assert "東京都" in html and 'class="overdue"' in html


def test_confirmation_request_is_answered_on_a_page(suite):
    app_id = _submitted_with_delegation(suite)
    suite.wait_status(app_id, "primary_review")
    meguro = client_for(suite, "meguro")
    html = wait_for(lambda: (lambda h: h if ">項番九 " in h else None)(
        text_of(meguro.get("/matching/confirmations"))), what="confirmation request")
    conf_id = re.search(r'/matching/confirmations/(\d+)"', html).group(1)
    url = f"/matching/confirmations/{conf_id}"
    res = post_form(meguro, "/matching/confirmations", url, {"answer": "異議"})
    assert res.status_code == 422 and "異議の場合は理由を記入してください。" in text_of(res)
    assert post_form(meguro, "/matching/confirmations", url, {"answer": "確認"}).status_code == 302
    done = text_of(meguro.get("/matching/confirmations?status=confirmed"))
    assert "確認済" in done
    # The applicant follows its records on the matching page.
    mine = text_of(client_for(suite, "demo-applicant").get(f"/matching/applications/{app_id}"))
    assert 'id="records"' in mine and "132012" in mine


def test_a_confirmation_request_names_its_delegators_and_its_status_as_the_filter_does(suite):
    """The 委任元 by name with the code beside (intake's registry, sent with the records),
    and one word for a status: the filter's option is the row's badge."""
    _submitted_with_delegation(suite)
    meguro = client_for(suite, "meguro")
    html = wait_for(lambda: (lambda h: h if ">項番九 " in h else None)(
        text_of(meguro.get("/matching/confirmations"))), what="confirmation request")
    assert re.search(r"委任元: 東京都八王子市（132012）", html), html
    badge = re.search(r'<span class="status status-pending">([^<]+)</span>', html).group(1)
    option = re.search(r'<option value="pending"[^>]*>([^<]+)</option>', html).group(1)
    assert badge == option == "確認待ち" and "未回答" not in html


def test_mic_sees_matching_results_approves_and_reads_the_master(suite):
    app_id = _submitted_with_delegation(suite)
    suite.wait_status(app_id, "primary_review")
    assert _decide(client_for(suite, "demo-pref"), app_id, "承認").status_code == 302
    suite.wait_status(app_id, "secondary_review")
    mic = client_for(suite, "demo-mic")
    html = wait_for(lambda: (lambda h: h if 'id="matching"' in h else None)(
        text_of(mic.get(f"/review/applications/{app_id}"))), what="matching results")
    assert "132012" in html and "委任情報の突合結果" in html
    # unresolved 突合 are listed above the decision; approving needs the check box
    assert 'id="unresolved-matching"' in html
    # 総務省's page starts with the 突合 summary and the attachments, then the decision
    # and the forms
    order = [html.index(marker) for marker in (
        'id="matching-summary"', 'id="attachments"', 'id="decision-heading"',
        '<h2>様式</h2>', 'id="matching-h"')]
    assert order == sorted(order)
    summary = html[html.index('id="matching-summary"'):html.index('id="attachments"')]
    assert "委任情報 1 件" in summary and "未解決の突合が 1 件" in summary
    pref_page = text_of(client_for(suite, "demo-pref").get(f"/review/applications/{app_id}"))
    assert 'id="matching-summary"' not in pref_page
    refused = _decide(mic, app_id, "承認", "確認しました")
    assert refused.status_code == 422 and "突合に未解決" in text_of(refused)
    assert _decide(mic, app_id, "承認", "委任元の確認は書面で受領",
                   acknowledge_matching="yes").status_code == 302
    app = suite.wait_status(app_id, "registered")
    number = app["master_version"]

    index = text_of(mic.get("/master/"))
    assert f"第{number}版" in index and suite.get_app(app_id)["number"] in index
    version = text_of(mic.get(f"/master/versions/{number}"))
    assert "責任者（様02-01）" in version and "山田 一郎" in version
    diff = text_of(mic.get(f"/master/versions/{number}/diff?from=0"))
    assert "<td>追加</td>" in diff
    assert mic.get(f"/master/versions/{number}/diff?from=x").status_code == 422
    assert mic.get("/master/versions/999").status_code == 404
    # every download on the version page works with the page session (no bearer token)
    links = re.findall(r'href="(/master/versions/\d+/export\.\w+)"', version)
    assert sorted(link.rsplit(".", 1)[1] for link in links) == ["json", "xlsx", "zip"]
    for link in links:
        res = mic.get(link)
        assert res.status_code == 200 and "attachment" in res.headers["Content-Disposition"]
    xlsx = next(link for link in links if link.endswith(".xlsx"))
    assert openpyxl.load_workbook(io.BytesIO(mic.get(xlsx).data)).sheetnames
    assert client_for(suite, "demo-applicant").get(links[0]).status_code == 403

    graph = text_of(mic.get("/matching/graph?org=131016"))
    assert '<svg id="graph"' in graph and ">132012</text>" in graph and "照会:九" in graph


def test_operator_sees_subscribers_and_their_delivery_logs(suite):
    res = suite.client.post("/api/master/subscriptions", headers=suite.headers("demo-operator"),
                            json={"url": "http://127.0.0.1:9/master-hook", "mode": "snapshot"})
    assert res.status_code == 201, res.get_json()
    sub_id = res.get_json()["id"]
    operator = client_for(suite, "demo-operator")
    assert "http://127.0.0.1:9/master-hook" in text_of(operator.get("/master/"))
    page = operator.get(f"/master/subscribers/{sub_id}")
    assert page.status_code == 200 and 'id="deliveries"' in text_of(page)
    assert client_for(suite, "demo-mic").get(f"/master/subscribers/{sub_id}").status_code == 403


def test_reviewers_see_the_attachments_and_each_reference_links_to_the_file(suite):
    # 八王子市 (千代田区 is registered by now): a 受任事務 from 千代田区, its 規約 attached
    h = suite.headers("meguro")
    app_id = factories.create_application(suite.client, h)
    forms = factories.all_forms("132012")
    forms["03-08"] = form_03_08("132012", query_delegations=[query_delegation(
        delegators=["131016"])])
    put_selection_for(suite.client, h, app_id, forms["03-08"])
    factories.put_forms(suite.client, h, app_id,
                        factories.attach_evidence(suite.client, h, app_id, forms))
    wait_for(lambda: all(f["status"] == "valid"
                         for f in suite.get_app(app_id, "meguro")["forms"].values()),
             what="valid")
    assert suite.client.post(f"/api/intake/applications/{app_id}/submit",
                             headers=h).status_code == 202
    suite.wait_status(app_id, "primary_review", "meguro")
    pref = client_for(suite, "demo-pref")
    html = text_of(pref.get(f"/review/applications/{app_id}"))
    href = f"/intake/applications/{app_id}/attachments/A001"
    listed = re.search(r'<table id="attachment-list".*?</table>', html, re.S).group(0)
    assert f'<a href="{href}" class="attachment-link">事務の委託に関する規約.pdf</a>' in listed
    assert "登録日時（日本時間）" in listed and "八王子市" in listed
    assert "様03-08 (1) 情報照会事務に関する委任情報" in listed   # the cell that names it
    form = re.search(r'<section id="form-03-08".*?</section>', html, re.S).group(0)
    assert f'<a href="{href}" class="attachment-ref">A001</a>' in form
    res = pref.get(href)
    assert res.status_code == 200 and res.data == factories.PDF
    assert res.headers["Content-Type"] == "application/pdf"
    # 総務省 before the case reached its stage, and a stranger: 404
    for login in ("demo-mic", "demo-applicant"):
        assert client_for(suite, login).get(href).status_code == 404, login
