"""Delegation matching through the whole embedded suite: intake emits the 様03-08 rows on
submission, matching pairs them, review shows MIC the results, applicants read theirs.

The 03-08 form plugin is written elsewhere; until it exists this test registers a
test-only one (no checks of its own) on the suite's plugin manager."""
from __future__ import annotations

from marshmallow import fields

from plugins.forms.common import FormBaseSchema
from shared.forms import FormSpec
from shared.hookspecs import hookimpl
from shared.pluginmanager import form_specs
from tests import factories
from tests.form_data import put_selection_for
from tests.conftest import wait_for
from tests.test_lifecycle_embedded import decide

CHIYODA, CHUO = "131016", "131024"
INFO = {"info_no": "EX0002", "info_name": "【例】住民票関係情報（例示・法令ではない）"}


class _Form0308Schema(FormBaseSchema):
    query_delegations = fields.List(fields.Dict(), load_default=list)
    provision_delegations = fields.List(fields.Dict(), load_default=list)
    provision_acceptances = fields.List(fields.Dict(), load_default=list)


class TestOnlyForm0308:
    @hookimpl
    def nws_form_specs(self):
        return [FormSpec(code="03-08", title="（テスト用）委任情報", schema=_Form0308Schema,
                         required_for=lambda kind, org: False)]


def form_03_08(org: str, **rows) -> dict:
    return {"org": org, "application_date": "2026/11/26", "request_type": "登録申請",
            "writer": dict(factories.WRITER), "query_delegations": [],
            "provision_delegations": [], "provision_acceptances": [], **rows}


def submit_with_delegations(suite, login: str, org: str, form: dict) -> int:
    h = suite.headers(login)
    app_id = factories.create_application(suite.client, h)
    put_selection_for(suite.client, h, app_id, form)
    forms = factories.attach_evidence(suite.client, h, app_id,
                                      {**factories.all_forms(org), "03-08": form})
    factories.put_forms(suite.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] == "valid"
                         for f in suite.get_app(app_id, login)["forms"].values()),
             what="forms validated")
    res = suite.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    return app_id


def matching_of(suite, app_id: int, login: str) -> list[dict]:
    res = suite.client.get(f"/api/matching/applications/{app_id}", headers=suite.headers(login))
    return res.get_json()["records"] if res.status_code == 200 else []


def statuses(records: list[dict]) -> list[str]:
    return [r["status"] for r in records]


def test_counterpart_filing_after_the_other_side_was_approved_updates_both(suite):
    if "03-08" not in form_specs(suite.runtime.plugins):
        suite.runtime.plugins.register(TestOnlyForm0308(), name="test_form_03_08")
    chuo = suite.add_user("chuo-applicant", CHUO, "applicant")

    # 千代田区 delegates the provision of 特定個人情報 1 to 中央区 and is approved first.
    first = submit_with_delegations(suite, "demo-applicant", CHIYODA, form_03_08(
        CHIYODA, provision_delegations=[{**INFO, "delegatee": CHUO}]))
    suite.wait_status(first, "primary_review")
    assert decide(suite, "demo-pref", first, "承認").status_code == 201
    suite.wait_status(first, "secondary_review")

    # MIC sees the matching result before deciding.
    def mic_view():
        body = suite.client.get(f"/api/review/applications/{first}",
                                headers=suite.headers("demo-mic")).get_json()
        return body.get("matching")
    seen = wait_for(mic_view, what="matching results in review")
    assert statuses(seen) == ["counterpart_missing"] and CHUO in seen[0]["detail"]
    # approving with an unresolved 突合 needs an explicit acknowledgement and a reason
    assert decide(suite, "demo-mic", first, "承認").status_code == 409
    res = suite.client.post(f"/api/review/applications/{first}/decisions",
                            json={"result": "承認", "comment": "中央区は来週申請予定",
                                  "acknowledge_matching": True},
                            headers=suite.headers("demo-mic"))
    assert res.status_code == 201, res.get_json()
    suite.wait_status(first, "registered")
    assert statuses(matching_of(suite, first, "demo-applicant")) == ["counterpart_missing"]
    assert matching_of(suite, first, chuo) == []   # not 中央区's application

    # 中央区 files its acceptance afterwards: both sides are matched.
    second = submit_with_delegations(suite, chuo, CHUO, form_03_08(
        CHUO, provision_acceptances=[{**INFO, "delegator": CHIYODA, "basis": {
            "article": "地方自治法第252条の14", "rule_title": "事務の委託に関する規約（例）",
            "attachment_id": "A001"}}]))
    wait_for(lambda: statuses(matching_of(suite, second, chuo)) == ["matched"],
             what="the acceptance matched")
    wait_for(lambda: statuses(matching_of(suite, first, "demo-applicant")) == ["matched"],
             what="the approved delegation matched")
    # Review keeps the latest results of the approved application too.
    wait_for(lambda: statuses(mic_view() or []) == ["matched"], what="review updated")

    # The master registered 千代田区's delegation with the result 総務省 saw, and
    # 中央区's acceptance, once approved, as matched.
    suite.wait_status(second, "primary_review", login=chuo)
    assert decide(suite, "demo-pref", second, "承認").status_code == 201
    suite.wait_status(second, "secondary_review", login=chuo)
    assert decide(suite, "demo-mic", second, "承認").status_code == 201
    suite.wait_status(second, "registered", login=chuo)
    mic = suite.headers("demo-mic")
    newest = suite.client.get("/api/master/versions", headers=mic).get_json()["items"][0]
    tables = suite.client.get(f"/api/master/versions/{newest['number']}",
                              headers=mic).get_json()["tables"]
    delegation = tables["provision_delegations"][0]["data"]
    acceptance = tables["provision_acceptances"][0]["data"]
    # the version that registers 中央区 also brings 千代田区's delegation up to date;
    # the version 総務省 approved it in keeps what it saw then
    assert (delegation["org_id"], delegation["matching_status"]) == (CHIYODA, "matched")
    assert (acceptance["org_id"], acceptance["matching_status"]) == (CHUO, "matched")
    first_version = suite.get_app(first)["master_version"]
    then = suite.client.get(f"/api/master/versions/{first_version}",
                            headers=mic).get_json()["tables"]["provision_delegations"][0]["data"]
    assert then["matching_status"] == "counterpart_missing"

    # 千代田区 files a 変更申請 that deletes the delegation: matching follows at once
    # (中央区's acceptance loses its counterpart); withdrawn, the registered row is back.
    h = suite.headers("demo-applicant")
    change = factories.create_application(suite.client, h, kind="change")
    # its selection screen opens with the registered selection
    registered_sel = suite.client.get(f"/api/intake/applications/{first}/selection",
                                      headers=h).get_json()["selection"]
    opened = suite.client.get(f"/api/intake/applications/{change}/selection",
                              headers=h).get_json()
    assert opened["saved"] and opened["selection"] == registered_sel
    assert {"info_no": INFO["info_no"], "choice": "委任した", "counterpart": CHUO} in (
        opened["selection"]["provided_info"])
    form = suite.client.get(f"/api/intake/applications/{change}/forms/03-08",
                            headers=h).get_json()["data"]
    assert [r["request_type"] for r in form["provision_delegations"]] == ["変更なし"]
    form["provision_delegations"][0]["request_type"] = "削除"
    form["application_date"] = "2026/11/30"

    def file_change(app_id: int) -> None:
        """Submit ``form`` as the change; 中央区's acceptance then lacks its counterpart."""
        factories.put_forms(suite.client, h, app_id, {"03-08": form})
        wait_for(lambda: suite.get_app(app_id)["forms"]["03-08"]["status"] == "valid",
                 what="change validated")
        assert suite.client.post(f"/api/intake/applications/{app_id}/submit",
                                 headers=h).status_code == 202
        wait_for(lambda: statuses(matching_of(suite, second, chuo)) == ["counterpart_missing"],
                 what="the acceptance lost its counterpart")

    file_change(change)
    assert matching_of(suite, change, "demo-applicant") == []   # nothing delegated any more
    suite.wait_status(change, "primary_review")
    assert suite.client.post(f"/api/intake/applications/{change}/withdraw",
                             headers=h).status_code == 202
    suite.wait_status(change, "withdrawn")
    wait_for(lambda: statuses(matching_of(suite, second, chuo)) == ["matched"],
             what="the registered delegation is back")
    assert statuses(matching_of(suite, first, "demo-applicant")) == ["matched"]

    # Filed again and approved: the delegation leaves the master, and the same version
    # brings 中央区's registered acceptance up to date (counterpart_missing).
    again = factories.create_application(suite.client, h, kind="change")
    file_change(again)
    suite.wait_status(again, "primary_review")
    assert decide(suite, "demo-pref", again, "承認").status_code == 201
    suite.wait_status(again, "secondary_review")
    assert decide(suite, "demo-mic", again, "承認").status_code == 201
    version = suite.wait_status(again, "registered")["master_version"]
    tables = suite.client.get(f"/api/master/versions/{version}",
                              headers=mic).get_json()["tables"]
    assert [r["data"]["org_id"] for r in tables.get("provision_delegations", [])] == []
    acceptance = tables["provision_acceptances"][0]["data"]
    assert (acceptance["org_id"], acceptance["matching_status"]) == (CHUO, "counterpart_missing")
