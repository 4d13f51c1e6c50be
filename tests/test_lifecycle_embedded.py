"""The whole lifecycle through all services and their Celery tasks, embedded mode."""
from __future__ import annotations

from tests import factories
from tests.conftest import Suite, wait_for


def prepare_submitted(suite: Suite, login: str = "demo-applicant", org: str = "131016") -> int:
    h = suite.headers(login)
    app_id = factories.create_application(suite.client, h)
    factories.put_forms(suite.client, h, app_id, factories.all_forms(org))
    wait_for(lambda: all(f["status"] == "valid"
                         for f in suite.get_app(app_id, login)["forms"].values()),
             what="forms validated")
    res = suite.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    return app_id


def decide(suite: Suite, login: str, app_id: int, result: str, comment: str = ""):
    return suite.client.post(f"/api/review/applications/{app_id}/decisions",
                             json={"result": result, "comment": comment},
                             headers=suite.headers(login))


def test_application_goes_from_draft_to_master_registration(suite):
    app_id = prepare_submitted(suite)
    app = suite.wait_status(app_id, "primary_review")
    assert app["stage"] == "primary"

    queue = suite.client.get("/api/review/queue", headers=suite.headers("demo-pref")).get_json()
    assert [i["application_id"] for i in queue["items"]] == [app_id]

    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    assert decide(suite, "demo-mic", app_id, "承認", "確認しました").status_code == 201

    app = suite.wait_status(app_id, "registered")
    assert app["master_version"] == 1
    events = [h["event"] for h in app["history"]]
    assert events == ["created", *["form_saved"] * len(factories.all_forms()),
                      "submit_requested", "submitted", "routed", "primary_approved",
                      "secondary_approved", "registered"]
    approvals = {h["event"]: h for h in app["history"]}
    assert approvals["primary_approved"]["actor"]["login"] == "demo-pref"
    assert approvals["primary_approved"]["org_id"] == "130001"
    assert approvals["secondary_approved"]["comment"] == "確認しました"

    master = suite.headers("demo-mic")
    versions = suite.client.get("/api/master/versions", headers=master).get_json()["items"]
    assert [v["number"] for v in versions] == [1]
    content = suite.client.get("/api/master/versions/1", headers=master).get_json()["tables"]
    assert content["responsibility"][0]["data"]["system_chief"]["name"] == "山田 一郎"
    assert content["organisations"][0]["data"]["name"] == "東京都千代田区"


def test_rejection_returns_with_reason_and_resubmission_runs_both_stages_again(suite):
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    res = decide(suite, "demo-mic", app_id, "否認", "連絡窓口の電話番号が代表番号です。直通番号にしてください。")
    assert res.status_code == 201
    app = suite.wait_status(app_id, "returned")
    rejected = [h for h in app["history"] if h["event"] == "secondary_rejected"]
    assert rejected[0]["comment"].startswith("連絡窓口の電話番号")

    h = suite.headers("demo-applicant")
    factories.put_forms(suite.client, h, app_id, {"02-02": factories.form_02_02(
        normal_contacts=[{"priority": 1, "department": "情報政策課", "name": "",
                          "phone": "03-5211-0000", "email": "joho@example.lg.jp"}])})
    wait_for(lambda: suite.get_app(app_id)["forms"]["02-02"]["status"] == "valid")
    assert suite.client.post(f"/api/intake/applications/{app_id}/submit",
                             headers=h).status_code == 202
    app = suite.wait_status(app_id, "primary_review")
    assert app["round"] == 2
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 201
    app = suite.wait_status(app_id, "registered")
    rounds = {h["round"] for h in app["history"] if h["event"] == "routed"}
    assert rounds == {1, 2}


def test_primary_rejection_returns_the_application(suite):
    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    assert decide(suite, "demo-pref", app_id, "否認", "責任者の役職名が誤っています。").status_code == 201
    app = suite.wait_status(app_id, "returned")
    assert app["history"][-1]["comment"] == "責任者の役職名が誤っています。"
    # Nothing reached the master.
    versions = suite.client.get("/api/master/versions", headers=suite.headers("demo-mic"))
    assert versions.get_json()["items"] == []


def test_board_of_education_goes_through_its_executive_first(suite):
    app_id = prepare_submitted(suite, login="demo-boe", org="131016-BOE")
    app = suite.wait_status(app_id, "forwarding", login="demo-boe")
    assert app["stage"] == "forwarding"
    assert decide(suite, "demo-forwarder", app_id, "承認").status_code == 201
    app = suite.wait_status(app_id, "primary_review", login="demo-boe")
    routed = [h for h in app["history"] if h["event"] == "forwarding_approved"]
    assert routed[0]["org_id"] == "131016"


def test_suite_killed_and_restarted_loses_nothing(tmp_path):
    """Stop everything after submission (worker and databases closed, queue on disk),
    start a new suite on the same data folder: the flow carries on."""
    first = Suite(tmp_path / "var")
    app_id = prepare_submitted(first)
    first.wait_status(app_id, "primary_review")
    assert decide(first, "demo-pref", app_id, "承認").status_code == 201
    first.worker.stop()  # the message to review may still be queued on disk
    first.runtime.close()

    second = Suite(tmp_path / "var")
    try:
        second.wait_status(app_id, "secondary_review")
        assert decide(second, "demo-mic", app_id, "承認").status_code == 201
        second.wait_status(app_id, "registered")
    finally:
        second.close()
