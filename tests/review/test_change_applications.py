"""変更申請: only an organisation with a registered application files one; it carries
only the forms that change, goes through the same two stages, and only the difference
reaches the master."""
from __future__ import annotations

import pytest

from tests import factories
from tests.conftest import Suite, wait_for
from tests.test_lifecycle_embedded import decide, prepare_submitted


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("change-applications") / "var")
    yield s
    s.close()


def create(suite, kind, login="demo-applicant"):
    return suite.client.post("/api/intake/applications", json={"kind": kind},
                             headers=suite.headers(login))


def through_review(suite, app_id):
    suite.wait_status(app_id, "primary_review")
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    assert decide(suite, "demo-mic", app_id, "承認").status_code == 201
    return suite.wait_status(app_id, "registered")


def test_change_needs_a_registered_application_then_carries_only_the_difference(suite):
    res = create(suite, "change")
    assert res.status_code == 409
    assert "登録済み" in res.get_json()["error"]["message"]

    first = prepare_submitted(suite)
    assert through_review(suite, first)["master_version"] == 1

    res = create(suite, "change")
    assert res.status_code == 201, res.get_json()
    change = res.get_json()["id"]
    h = suite.headers("demo-applicant")
    empty = suite.client.post(f"/api/intake/applications/{change}/submit", headers=h)
    assert empty.status_code == 422
    assert [f["rule"] for f in empty.get_json()["findings"]] == ["application.change_empty"]

    new_contacts = [{"priority": 1, "department": "デジタル推進課", "name": "",
                     "phone": "03-5211-4000", "email": "digital@example.lg.jp"}]
    factories.put_forms(suite.client, h, change, {"02-02": factories.form_02_02(
        request_type="変更申請", normal_contacts=new_contacts)})
    wait_for(lambda: suite.get_app(change)["forms"]["02-02"]["status"] == "valid",
             what="02-02 validated")
    res = suite.client.post(f"/api/intake/applications/{change}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    app = through_review(suite, change)
    assert app["master_version"] == 2
    assert [h["event"] for h in app["history"] if h["event"].endswith("_approved")] == [
        "primary_approved", "secondary_approved"]

    mic = suite.headers("demo-mic")
    diff = suite.client.get("/api/master/versions/2/diff", query_string={"from": 1},
                            headers=mic).get_json()["tables"]
    assert set(diff) == {"contacts"}
    changed = diff["contacts"]["changed"]
    assert len(changed) == 1 and changed[0]["after"]["phone"] == "03-5211-4000"
    # 02-01 was not part of the change: its row is as the first registration left it.
    content = suite.client.get("/api/master/versions/2", headers=mic).get_json()["tables"]
    assert content["responsibility"][0]["data"]["system_chief"]["name"] == "山田 一郎"


def test_built_in_forms_are_not_required_for_a_change(suite):
    from shared.pluginmanager import form_specs

    specs = form_specs(suite.runtime.plugins)
    org = {"id": "131016", "kind": "特別区", "branch": "executive"}
    assert [c for c, s in specs.items() if s.required_for("change", org)] == []
    assert {"02-01", "02-02"} <= {c for c, s in specs.items() if s.required_for("connection", org)}
