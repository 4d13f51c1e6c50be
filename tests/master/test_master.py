"""The master: versions, their content and diffs, checksums, and what is never
published (緊急連絡先).

One scenario serves the whole module (two registrations take a while): 千代田区 is
registered (version 1), then files a 変更申請 that changes only its 連絡窓口 (様02-02)
(version 2). The API answers are recorded after each registration, so the tests can
compare what version 1 looked like before and after version 2 existed."""
from __future__ import annotations

import json

import pytest

from services.master.content import MOD, row_hash
from services.master.models import RestrictedContact
from tests import factories
from tests.conftest import Suite, wait_for
from tests.test_lifecycle_embedded import decide

MIC = "demo-mic"

EMERGENCY_1 = factories.form_02_02()["emergency_contacts"][0]
EMERGENCY_2 = {"priority": 1, "name": "佐藤 二郎", "phone": "080-9876-5432",
               "email": "sato-kinkyu@example.jp"}
SECRETS = [EMERGENCY_1["phone"], EMERGENCY_1["email"], EMERGENCY_2["phone"],
           EMERGENCY_2["email"]]

CHANGED_02_02 = factories.form_02_02(
    request_type="変更申請",
    contact_chief={"title": "デジタル推進担当部長", "name": "鈴木 三郎"},
    normal_contacts=[
        {"priority": 1, "department": "情報政策課", "name": "",
         "phone": "03-5211-4000", "email": "joho@example.lg.jp"},
        {"priority": 2, "department": "デジタル推進課", "name": "高橋 四郎",
         "phone": "03-5211-4001", "email": "digital@example.lg.jp"}],
    emergency_contacts=[EMERGENCY_2])


def register(suite: Suite, kind: str, forms: dict[str, dict]) -> dict:
    """Drive one application through both reviews to the master."""
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h, kind=kind)
    factories.put_forms(suite.client, h, app_id, forms)
    wait_for(lambda: all(f["status"] == "valid"
                         for f in suite.get_app(app_id)["forms"].values()),
             what="forms validated")
    res = suite.client.post(f"/api/intake/applications/{app_id}/submit", headers=h)
    assert res.status_code == 202, res.get_json()
    suite.wait_status(app_id, "primary_review")
    assert decide(suite, "demo-pref", app_id, "承認").status_code == 201
    suite.wait_status(app_id, "secondary_review")
    assert decide(suite, MIC, app_id, "承認").status_code == 201
    return suite.wait_status(app_id, "registered")


def get(suite: Suite, path: str, login: str = MIC) -> dict:
    res = suite.client.get(path, headers=suite.headers(login))
    assert res.status_code == 200, (path, res.get_json())
    return res.get_json()


def record(suite: Suite) -> dict:
    """Every master answer as it is now."""
    versions = get(suite, "/api/master/versions")["items"]
    numbers = [v["number"] for v in versions]
    out = {"versions": versions,
           "content": {n: get(suite, f"/api/master/versions/{n}") for n in numbers},
           "diff": {}, "contacts": get(suite, "/api/master/contacts"),
           "contacts_as_applicant": get(suite, "/api/master/contacts", "demo-applicant")}
    for n in numbers:
        for base in range(0, max(numbers) + 1):
            if base != n:
                out["diff"][(base, n)] = get(suite, f"/api/master/versions/{n}/diff?from={base}")
    return out


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("master") / "var")
    try:
        first = register(suite, "connection", factories.all_forms())
        after_1 = record(suite)
        second = register(suite, "change", {"02-02": CHANGED_02_02})
        after_2 = record(suite)
        yield {"suite": suite, "first": first, "second": second,
               "after_1": after_1, "after_2": after_2}
    finally:
        suite.close()


def checksum_of(tables: dict[str, list[dict]]) -> str:
    total = sum(int(row_hash(table, row["key"], row["data"]), 16)
                for table, rows in tables.items() for row in rows) % MOD
    return f"{total:064x}"


# --- versions and their content ----------------------------------------------------

def test_registration_creates_version_1(scenario):
    assert scenario["first"]["master_version"] == 1
    [v] = scenario["after_1"]["versions"]
    assert v["number"] == 1
    assert v["sources"] == [{"application_id": scenario["first"]["id"],
                             "number": scenario["first"]["number"], "round": 1,
                             "org_id": "131016"}]


def test_versions_are_listed_newest_first(scenario):
    assert [v["number"] for v in scenario["after_2"]["versions"]] == [2, 1]


def test_version_1_content_has_the_registered_rows(scenario):
    tables = scenario["after_1"]["content"][1]["tables"]
    assert {"contact_chiefs", "contacts", "organisations", "responsibility"} <= set(tables)
    assert tables["organisations"] == [{"key": "131016", "data": {
        "id": "131016", "name": "東京都千代田区", "kind": "特別区", "branch": "executive",
        "prefecture_code": "130001", "parent_id": None}}]
    assert tables["responsibility"][0]["data"]["system_manager"] == {
        "title": "情報政策課長", "name": "佐藤 二郎"}
    assert [r["key"] for r in tables["contacts"]] == ["131016|1"]
    assert tables["contacts"][0]["data"]["phone"] == "03-1234-5678"


def test_diff_from_0_shows_every_row_of_version_1_as_added(scenario):
    diff = scenario["after_1"]["diff"][(0, 1)]
    assert (diff["from"], diff["to"]) == (0, 1)
    content = scenario["after_1"]["content"][1]["tables"]
    assert sorted(diff["tables"]) == sorted(content)
    for table, change in diff["tables"].items():
        assert change["removed"] == [] and change["changed"] == []
        assert change["added"] == content[table], table


def test_change_application_creates_version_2(scenario):
    assert scenario["second"]["kind"] == "change"
    assert scenario["second"]["master_version"] == 2
    newest = scenario["after_2"]["versions"][0]
    assert newest["sources"][0]["application_id"] == scenario["second"]["id"]


def test_diff_1_to_2_has_only_the_contact_tables(scenario):
    diff = scenario["after_2"]["diff"][(1, 2)]["tables"]
    assert sorted(diff) == ["contact_chiefs", "contacts"]
    assert diff["contact_chiefs"] == {"added": [], "removed": [], "changed": [{
        "key": "131016",
        "before": {"org_id": "131016", "title": "情報政策担当部長", "name": "山田 一郎"},
        "after": {"org_id": "131016", "title": "デジタル推進担当部長", "name": "鈴木 三郎"}}]}
    contacts = diff["contacts"]
    assert [c["key"] for c in contacts["changed"]] == ["131016|1"]
    assert contacts["changed"][0]["before"]["phone"] == "03-1234-5678"
    assert contacts["changed"][0]["after"]["phone"] == "03-5211-4000"
    assert [c["key"] for c in contacts["added"]] == ["131016|2"]
    assert contacts["removed"] == []


def test_tables_the_change_did_not_cover_are_unchanged(scenario):
    v1 = scenario["after_2"]["content"][1]["tables"]
    v2 = scenario["after_2"]["content"][2]["tables"]
    assert v2["organisations"] == v1["organisations"]
    untouched = set(v1) - {"contacts", "contact_chiefs"}
    assert "responsibility" in untouched
    assert {t: v2.get(t) for t in untouched} == {t: v1[t] for t in untouched}


def test_version_2_summary_counts_the_changes(scenario):
    v2 = scenario["after_2"]["content"][2]
    assert v2["summary"] == {"contact_chiefs": {"added": 0, "removed": 0, "changed": 1},
                             "contacts": {"added": 1, "removed": 0, "changed": 1}}


def test_diff_2_to_1_is_the_reverse_of_1_to_2(scenario):
    forward = scenario["after_2"]["diff"][(1, 2)]["tables"]
    backward = scenario["after_2"]["diff"][(2, 1)]["tables"]
    assert backward["contacts"]["removed"] == forward["contacts"]["added"]
    assert [(c["before"], c["after"]) for c in backward["contacts"]["changed"]] == [
        (c["after"], c["before"]) for c in forward["contacts"]["changed"]]


def test_diff_from_0_to_2_adds_exactly_version_2s_rows(scenario):
    diff = scenario["after_2"]["diff"][(0, 2)]["tables"]
    content = scenario["after_2"]["content"][2]["tables"]
    assert {t: c["added"] for t, c in diff.items()} == content
    assert all(c["removed"] == [] and c["changed"] == [] for c in diff.values())


def test_version_1_reads_the_same_after_version_2(scenario):
    assert scenario["after_2"]["content"][1] == scenario["after_1"]["content"][1]
    assert scenario["after_2"]["diff"][(0, 1)] == scenario["after_1"]["diff"][(0, 1)]
    assert scenario["after_2"]["versions"][1] == scenario["after_1"]["versions"][0]


def test_contacts_follow_the_newest_version(scenario):
    assert scenario["after_1"]["contacts"]["version"] == 1
    assert [c["phone"] for c in scenario["after_1"]["contacts"]["items"]] == ["03-1234-5678"]
    after = scenario["after_2"]["contacts"]
    assert after["version"] == 2
    assert [(c["priority"], c["phone"]) for c in after["items"]] == [
        (1, "03-5211-4000"), (2, "03-5211-4001")]


# --- checksums -----------------------------------------------------------------------

def test_checksum_changes_between_versions(scenario):
    by_number = {v["number"]: v["checksum"] for v in scenario["after_2"]["versions"]}
    assert by_number[1] != by_number[2]
    assert "0" * 64 not in by_number.values()


@pytest.mark.parametrize("number", [1, 2])
def test_checksum_is_the_sum_of_the_row_hashes_of_the_version(scenario, number):
    version = scenario["after_2"]["content"][number]
    assert version["checksum"] == checksum_of(version["tables"])


# --- what is never published ------------------------------------------------------

def test_emergency_contacts_are_kept_for_the_operator(scenario):
    """They are stored, which makes their absence from every output meaningful."""
    suite = scenario["suite"]
    with suite.ctx("master").transaction() as session:
        rows = [r.data for r in session.query(RestrictedContact).all()]
    assert rows == [EMERGENCY_2]


@pytest.mark.parametrize("moment", ["after_1", "after_2"])
def test_emergency_contacts_never_appear_in_any_master_output(scenario, moment):
    answers = scenario[moment]
    outputs = {"versions": answers["versions"], "contacts": answers["contacts"],
               "contacts_as_applicant": answers["contacts_as_applicant"],
               **{f"version {n}": body for n, body in answers["content"].items()},
               **{f"diff {a}->{b}": body for (a, b), body in answers["diff"].items()}}
    assert len(outputs) >= 5
    for name, body in outputs.items():
        text = json.dumps(body, ensure_ascii=False)
        for secret in SECRETS:
            assert secret not in text, (name, secret)
        assert "emergency_contacts" not in text, name


# --- access and parameters -------------------------------------------------------

def test_contacts_are_readable_by_an_applicant(scenario):
    body = scenario["after_2"]["contacts_as_applicant"]
    assert body == scenario["after_2"]["contacts"]
    assert body["items"]


@pytest.mark.parametrize("path", ["/api/master/versions", "/api/master/versions/1",
                                  "/api/master/versions/2/diff?from=1"])
@pytest.mark.parametrize("login", ["demo-applicant", "demo-pref", "demo-forwarder"])
def test_versions_are_forbidden_to_other_roles(scenario, path, login):
    suite = scenario["suite"]
    res = suite.client.get(path, headers=suite.headers(login))
    assert res.status_code == 403, res.get_json()
    assert res.get_json()["error"]["code"] == "forbidden"


def test_operator_reads_versions(scenario):
    suite = scenario["suite"]
    assert get(suite, "/api/master/versions", "demo-operator") == {
        "items": scenario["after_2"]["versions"]}


@pytest.mark.parametrize("query", ["", "?from=", "?from=one", "?from=-1", "?to=1"])
def test_diff_without_a_valid_from_is_422(scenario, query):
    suite = scenario["suite"]
    res = suite.client.get(f"/api/master/versions/2/diff{query}", headers=suite.headers(MIC))
    assert res.status_code == 422, res.get_json()
    assert res.get_json()["error"]["code"] == "bad_parameter"


@pytest.mark.parametrize("path", ["/api/master/versions/3", "/api/master/versions/3/diff?from=1",
                                  "/api/master/versions/2/diff?from=7"])
def test_unknown_version_is_404(scenario, path):
    suite = scenario["suite"]
    res = suite.client.get(path, headers=suite.headers(MIC))
    assert res.status_code == 404, res.get_json()


def test_master_needs_a_token(scenario):
    suite = scenario["suite"]
    for path in ("/api/master/versions", "/api/master/contacts"):
        assert suite.client.get(path).status_code == 401
