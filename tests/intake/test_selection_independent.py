"""独自利用事務 (条例連携) entered on the 申請前情報選択画面 become 様03-09's rows: prefilled
in 様式作成 and its JSON twin, checked against the selection, kept for a 変更申請."""
from __future__ import annotations

import re

from tests import factories
from tests.conftest import wait_for
from tests.pages.support import client_for, post_form, text_of

AFFAIRS = [{"case_no": "0001", "affair": "千代田区子ども医療費助成に関する事務"},
           {"case_no": "0002", "affair": "千代田区ひとり親家庭等医療費助成に関する事務"}]


def put_selection(s, app_id, body, login="demo-applicant"):
    return s.client.put(f"/api/intake/applications/{app_id}/selection", json=body,
                        headers=s.headers(login))


def test_independent_affairs_are_saved_checked_and_prefill_03_09(suite):
    s = suite
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    bad = put_selection(s, app_id, {"independent_affairs": [{"case_no": "", "affair": "x"},
                                                            {"case_no": "9", "extra": 1}]})
    assert bad.status_code == 422
    assert "事例番号" in bad.get_json()["error"]["message"]
    assert put_selection(s, app_id, {"independent_affairs": AFFAIRS}).status_code == 200
    sel = s.client.get(f"/api/intake/applications/{app_id}/selection", headers=h).get_json()
    assert sel["effective"]["independent_affairs"] == AFFAIRS
    data = s.client.get(f"/api/intake/applications/{app_id}/forms/03-09",
                        headers=h).get_json()["data"]
    assert [(r["case_no"], r["affair"], r["request_type"]) for r in data["independent_affairs"]] == [
        ("0001", AFFAIRS[0]["affair"], "登録"), ("0002", AFFAIRS[1]["affair"], "登録")]
    # filled in, but one name not as notified and one case not selected
    rows = [dict(r, ppc_notification_no=f"PPC-{r['case_no']}",
                 ordinance="千代田区個人番号の利用に関する条例") for r in data["independent_affairs"]]
    rows[1]["affair"] = "ひとり親医療費助成"
    rows.append(dict(rows[0], case_no="0009"))
    factories.put_forms(s.client, h, app_id, {"03-09": dict(data, independent_affairs=rows,
                                                             application_date="2026/11/30")})
    form = wait_for(lambda: (lambda f: f if f and f["status"] != "validating" else None)(
        s.get_app(app_id)["forms"].get("03-09")), what="03-09 validated")
    found = {(f["rule"], f["location"]) for f in form["findings"]}
    assert ("03-09.independent_affairs.affair_differs", "independent_affairs[1].affair") in found
    assert ("03-09.independent_affairs.not_selected", "independent_affairs[2].case_no") in found
    message = next(f["message"] for f in form["findings"] if f["rule"].endswith("affair_differs"))
    assert AFFAIRS[1]["affair"] in message


def test_the_selection_page_takes_independent_affairs(suite):
    s = suite
    factories.withdraw_open(s.client, s.headers("demo-applicant"))
    app_id = factories.create_application(s.client, s.headers("demo-applicant"))
    client = client_for(s, "demo-applicant")
    page = f"/applicant/applications/{app_id}/selection"
    html = text_of(client.get(page))
    assert 'id="independent-affairs"' in html and "独自利用事務" in html
    fields = dict(re.findall(r'<input type="checkbox" id="([^"]+)" name="[^"]+" checked', html)
                  and [(k, "on") for k in re.findall(
                      r'<input type="checkbox" id="([^"]+)" name="[^"]+" checked', html)])
    fields.update({"ia_count": "0", "ia_case_0": "0001", "ia_name_0": AFFAIRS[0]["affair"]})
    res = post_form(client, page, page, fields)
    assert res.status_code == 302, text_of(res)[:500]
    sel = s.client.get(f"/api/intake/applications/{app_id}/selection",
                       headers=s.headers("demo-applicant")).get_json()
    assert sel["selection"]["independent_affairs"] == [AFFAIRS[0]]
    assert AFFAIRS[0]["affair"] in text_of(client.get(page))
