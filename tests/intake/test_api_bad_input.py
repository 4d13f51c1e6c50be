"""The intake API refuses bad input with the right status, a Japanese message and no
trace in storage; the form validators' findings reach the applicant.

One embedded suite (with its worker) serves the whole module to keep it fast; every
test works on applications it creates itself."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from services.intake import validation
from services.intake.models import Application, FormEntry, HistoryEntry, Organisation, Outbox
from shared.auth import Principal, issue_token
from tests import factories
from tests.conftest import Suite, wait_for

OTHER = "other-org-applicant"  # an applicant of 札幌市 (011002)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    s = Suite(tmp_path_factory.mktemp("intake-bad-input") / "var")
    s.add_user(OTHER, "011002", "applicant")
    yield s
    s.close()


# --- helpers -------------------------------------------------------------------------

def new_app(suite: Suite, login: str = "demo-applicant") -> int:
    return factories.create_application(suite.client, suite.headers(login))


def put_form(suite: Suite, app_id: int, code: str, data, login: str = "demo-applicant",
             **kwargs):
    return suite.client.put(f"/api/intake/applications/{app_id}/forms/{code}", json=data,
                            headers=suite.headers(login), **kwargs)


def submit(suite: Suite, app_id: int, login: str = "demo-applicant"):
    return suite.client.post(f"/api/intake/applications/{app_id}/submit",
                             headers=suite.headers(login))


def wait_form(suite: Suite, app_id: int, code: str, status: str) -> dict:
    return wait_for(lambda: (lambda f: f if f and f["status"] == status else None)(
        suite.get_app(app_id)["forms"].get(code)), what=f"form {code} → {status}")


def snapshot(suite: Suite, *app_ids: int) -> dict:
    """What intake stores: the number of applications, and for each given application
    its row, its forms, its history and the messages it queued."""
    with suite.ctx("intake").transaction() as session:
        out: dict = {"applications": session.scalar(select(func.count(Application.id)))}
        outbox = [(m.id, m.task_name) for m in session.scalars(select(Outbox))
                  if m.envelope["payload"].get("application_id") in app_ids]
        for app_id in app_ids:
            app = session.get(Application, app_id)
            out[app_id] = {
                "application": (app.org_id, app.kind, app.status, app.round, app.stage,
                                app.findings, app.updated_at),
                "forms": [(f.code, f.data, f.revision, f.status, f.findings, f.updated_at)
                          for f in session.scalars(select(FormEntry).where(
                              FormEntry.application_id == app_id).order_by(FormEntry.code))],
                "history": [(h.id, h.event, h.status) for h in session.scalars(
                    select(HistoryEntry).where(HistoryEntry.application_id == app_id)
                    .order_by(HistoryEntry.id))],
                "outbox": sorted(m for m in outbox),
            }
    return out


def error_of(res, status: int, code: str | None = None) -> dict:
    assert res.status_code == status, (res.status_code, res.get_json())
    body = res.get_json()
    error = body["error"]
    if code is not None:
        assert error["code"] == code, body
    assert JAPANESE.search(error["message"]), error["message"]
    return body


def expired_headers(suite: Suite) -> dict:
    principal = Principal(1, "demo-applicant", "131016", "applicant", "申請 太郎", "情報政策課")
    token, _ = issue_token(principal, suite.runtime.settings.secret_key, -10)
    return {"Authorization": f"Bearer {token}"}


def required_forms(suite: Suite, kind: str = "connection", org: str = "131016") -> list[str]:
    """The form codes the loaded plugins require of such an application."""
    with suite.ctx("intake").transaction() as session:
        ref = session.get(Organisation, org).as_ref()
    return sorted(validation.required_codes(suite.runtime.plugins, kind, ref))


def findings_at(body_or_list, location: str) -> list[dict]:
    items = body_or_list["findings"] if isinstance(body_or_list, dict) else body_or_list
    return [f for f in items if f["location"] == location]


# --- malformed bodies ------------------------------------------------------------------

def test_malformed_json_on_create_is_400_in_japanese_and_creates_nothing(suite):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications", data='{"kind": "connection"',
                            content_type="application/json",
                            headers=suite.headers("demo-applicant"))
    error_of(res, 400, "malformed_json")
    assert snapshot(suite) == before


def test_malformed_json_on_form_is_400_in_japanese_and_stores_nothing(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    res = suite.client.put(f"/api/intake/applications/{app_id}/forms/02-01",
                           data="{'org': '131016'}", content_type="application/json",
                           headers=suite.headers("demo-applicant"))
    error_of(res, 400, "malformed_json")
    assert snapshot(suite, app_id) == before


def test_wrong_content_type_on_create_is_415_and_creates_nothing(suite):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications", data="kind=connection",
                            content_type="application/x-www-form-urlencoded",
                            headers=suite.headers("demo-applicant"))
    error_of(res, 415, "unsupported_media_type")
    assert snapshot(suite) == before


def test_wrong_content_type_on_form_is_415_and_stores_nothing(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    res = suite.client.put(f"/api/intake/applications/{app_id}/forms/02-01",
                           data=json.dumps(factories.form_02_01()), content_type="text/plain",
                           headers=suite.headers("demo-applicant"))
    error_of(res, 415, "unsupported_media_type")
    assert snapshot(suite, app_id) == before


def test_unknown_field_on_create_is_422_naming_it_and_creates_nothing(suite):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications",
                            json={"kind": "connection", "priority_lane": True},
                            headers=suite.headers("demo-applicant"))
    body = error_of(res, 422, "validation_failed")
    assert list(body["error"]["details"]) == ["priority_lane"]
    assert JAPANESE.search(body["error"]["details"]["priority_lane"][0])
    assert snapshot(suite) == before


def test_unknown_field_in_a_form_is_422_naming_it_and_stores_nothing(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    res = put_form(suite, app_id, "02-01", factories.form_02_01(fax="03-0000-0000"))
    body = error_of(res, 422, "validation_failed")
    [finding] = body["findings"]
    assert finding["location"] == "fax"
    assert finding["rule"] == "02-01.schema" and finding["severity"] == "error"
    assert JAPANESE.search(finding["message"])
    assert snapshot(suite, app_id) == before


def test_unknown_nested_field_in_a_form_is_422_naming_its_path(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    form = factories.form_02_01()
    form["writer"]["nickname"] = "たろう"
    body = error_of(put_form(suite, app_id, "02-01", form), 422, "validation_failed")
    assert [f["location"] for f in body["findings"]] == ["writer.nickname"]
    assert snapshot(suite, app_id) == before


def test_unknown_kind_is_422_and_creates_nothing(suite):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications", json={"kind": "withdrawal"},
                            headers=suite.headers("demo-applicant"))
    body = error_of(res, 422, "validation_failed")
    assert "kind" in body["error"]["details"]
    assert snapshot(suite) == before


def test_missing_kind_is_422_and_creates_nothing(suite):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications", json={},
                            headers=suite.headers("demo-applicant"))
    body = error_of(res, 422, "validation_failed")
    assert "kind" in body["error"]["details"]
    assert snapshot(suite) == before


# --- other organisations' applications, unknown forms, state ---------------------------

def test_another_organisations_application_is_404_on_get(suite):
    app_id = new_app(suite)
    res = suite.client.get(f"/api/intake/applications/{app_id}", headers=suite.headers(OTHER))
    error_of(res, 404, "not_found")


def test_another_organisations_application_is_as_unknown_as_a_missing_id(suite):
    app_id = new_app(suite)
    theirs = suite.client.get(f"/api/intake/applications/{app_id}",
                              headers=suite.headers(OTHER)).get_json()
    missing = suite.client.get("/api/intake/applications/999999",
                               headers=suite.headers(OTHER)).get_json()
    assert theirs == missing


def test_another_organisations_application_is_404_on_put_form_and_unchanged(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    res = put_form(suite, app_id, "02-01", factories.form_02_01("011002"), login=OTHER)
    error_of(res, 404, "not_found")
    assert snapshot(suite, app_id) == before


def test_another_organisations_application_is_404_on_submit_and_unchanged(suite):
    app_id = new_app(suite)
    forms = factories.all_forms()
    factories.put_forms(suite.client, suite.headers("demo-applicant"), app_id, forms)
    for code in forms:   # every validation done, so nothing changes between snapshots
        wait_for(lambda: suite.get_app(app_id)["forms"][code]["status"] != "validating",
                 what=f"様{code} validated")
    before = snapshot(suite, app_id)
    error_of(submit(suite, app_id, login=OTHER), 404, "not_found")
    assert snapshot(suite, app_id) == before
    assert suite.get_app(app_id)["status"] == "draft"


def test_another_organisation_does_not_see_the_application_in_its_list(suite):
    app_id = new_app(suite)
    items = suite.client.get("/api/intake/applications",
                             headers=suite.headers(OTHER)).get_json()["items"]
    assert app_id not in [i["id"] for i in items]


def test_unknown_form_code_is_404_and_stores_nothing(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    body = error_of(put_form(suite, app_id, "99-99", factories.form_02_01()), 404,
                    "unknown_form")
    assert "99-99" in body["error"]["message"]
    assert snapshot(suite, app_id) == before


def test_put_form_while_under_review_is_409_and_changes_nothing(suite):
    from tests.test_lifecycle_embedded import prepare_submitted

    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    before = snapshot(suite, app_id)
    changed = factories.form_02_02(contact_chief={"title": "課長", "name": "別人 花子"})
    body = error_of(put_form(suite, app_id, "02-02", changed), 409, "not_editable")
    assert "一次審査中" in body["error"]["message"]
    assert snapshot(suite, app_id) == before


def test_submit_again_while_under_review_is_409_and_changes_nothing(suite):
    from tests.test_lifecycle_embedded import prepare_submitted

    app_id = prepare_submitted(suite)
    suite.wait_status(app_id, "primary_review")
    before = snapshot(suite, app_id)
    error_of(submit(suite, app_id), 409, "not_editable")
    assert snapshot(suite, app_id) == before


# --- authentication and roles -------------------------------------------------------

@pytest.mark.parametrize("headers, code", [
    ({}, "unauthenticated"),
    ({"Authorization": "Basic ZGVtbzpkZW1v"}, "unauthenticated"),
    ({"Authorization": "Bearer not-a-token"}, "invalid_token"),
], ids=["missing", "not-bearer", "garbage"])
def test_missing_or_invalid_token_is_401_and_creates_nothing(suite, headers, code):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications", json={"kind": "connection"},
                            headers=headers)
    error_of(res, 401, code)
    assert snapshot(suite) == before


def test_token_signed_with_another_key_is_401(suite):
    principal = Principal(1, "demo-applicant", "131016", "applicant", "申請 太郎", "情報政策課")
    token, _ = issue_token(principal, "x" * 48, 3600)
    res = suite.client.get("/api/intake/applications",
                           headers={"Authorization": f"Bearer {token}"})
    error_of(res, 401, "invalid_token")


def test_expired_token_is_401_and_creates_nothing(suite):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications", json={"kind": "connection"},
                            headers=expired_headers(suite))
    error_of(res, 401, "token_expired")
    assert snapshot(suite) == before


def test_expired_token_cannot_put_a_form_or_submit(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    h = expired_headers(suite)
    error_of(suite.client.put(f"/api/intake/applications/{app_id}/forms/02-01",
                              json=factories.form_02_01(), headers=h), 401, "token_expired")
    error_of(suite.client.post(f"/api/intake/applications/{app_id}/submit", headers=h),
             401, "token_expired")
    error_of(suite.client.get(f"/api/intake/applications/{app_id}", headers=h),
             401, "token_expired")
    assert snapshot(suite, app_id) == before


@pytest.mark.parametrize("login", ["demo-pref", "demo-mic", "demo-forwarder", "demo-operator"])
def test_non_applicant_role_cannot_create_an_application(suite, login):
    before = snapshot(suite)
    res = suite.client.post("/api/intake/applications", json={"kind": "connection"},
                            headers=suite.headers(login))
    error_of(res, 403, "forbidden")
    assert snapshot(suite) == before


def test_reviewer_is_403_on_every_applicant_endpoint_and_changes_nothing(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    h = suite.headers("demo-pref")
    base = f"/api/intake/applications/{app_id}"
    responses = [
        suite.client.get("/api/intake/applications", headers=h),
        suite.client.get(base, headers=h),
        suite.client.put(f"{base}/forms/02-01", json=factories.form_02_01(), headers=h),
        suite.client.post(f"{base}/submit", headers=h),
    ]
    for res in responses:
        error_of(res, 403, "forbidden")
    assert snapshot(suite, app_id) == before


def test_forwarder_of_the_same_organisation_cannot_edit_its_application(suite):
    """demo-forwarder belongs to 131016 like demo-applicant, but is not an applicant."""
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    res = put_form(suite, app_id, "02-01", factories.form_02_01(), login="demo-forwarder")
    error_of(res, 403, "forbidden")
    assert snapshot(suite, app_id) == before


# --- submission and schema findings -----------------------------------------------

def test_submit_with_no_forms_is_422_naming_each_missing_form(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    body = error_of(submit(suite, app_id), 422, "submission_blocked")
    missing = sorted(f["location"] for f in body["findings"])
    assert {"02-01", "02-02"} <= set(missing)
    assert missing == required_forms(suite)
    assert {f["rule"] for f in body["findings"]} == {"application.form_missing"}
    assert {f["severity"] for f in body["findings"]} == {"error"}
    assert all(JAPANESE.search(f["message"]) for f in body["findings"])
    assert snapshot(suite, app_id) == before


def test_submit_with_one_form_missing_names_only_that_form(suite):
    app_id = new_app(suite)
    forms = {code: form for code, form in factories.all_forms().items() if code != "02-02"}
    factories.put_forms(suite.client, suite.headers("demo-applicant"), app_id, forms)
    for code in forms:
        wait_form(suite, app_id, code, "valid")
    before = snapshot(suite, app_id)
    body = error_of(submit(suite, app_id), 422, "submission_blocked")
    assert [(f["rule"], f["location"]) for f in body["findings"]] == [
        ("application.form_missing", "02-02")]
    assert snapshot(suite, app_id) == before


def test_form_missing_a_required_section_is_422_at_its_field_path(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    form = factories.form_02_01()
    del form["system_chief"]
    body = error_of(put_form(suite, app_id, "02-01", form), 422, "validation_failed")
    assert [(f["rule"], f["severity"], f["location"]) for f in body["findings"]] == [
        ("02-01.schema", "error", "system_chief")]
    assert JAPANESE.search(body["findings"][0]["message"])
    assert snapshot(suite, app_id) == before


def test_form_missing_a_nested_field_is_422_at_its_dotted_path(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    form = factories.form_02_01(system_chief={"title": "情報政策担当部長"})
    body = error_of(put_form(suite, app_id, "02-01", form), 422, "validation_failed")
    assert [f["location"] for f in body["findings"]] == ["system_chief.name"]
    assert snapshot(suite, app_id) == before


def test_form_with_a_wrong_type_in_a_list_row_is_422_at_the_row_path(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    form = factories.form_02_02()
    form["normal_contacts"][0]["priority"] = "first"
    body = error_of(put_form(suite, app_id, "02-02", form), 422, "validation_failed")
    assert [f["location"] for f in body["findings"]] == ["normal_contacts.0.priority"]
    assert snapshot(suite, app_id) == before


def test_form_that_is_not_an_object_is_422_and_stores_nothing(suite):
    app_id = new_app(suite)
    before = snapshot(suite, app_id)
    error_of(put_form(suite, app_id, "02-01", [factories.form_02_01()]), 422,
             "validation_failed")
    assert snapshot(suite, app_id) == before


def test_rejected_form_keeps_the_previously_accepted_revision(suite):
    app_id = new_app(suite)
    factories.put_forms(suite.client, suite.headers("demo-applicant"), app_id,
                        {"02-01": factories.form_02_01()})
    wait_form(suite, app_id, "02-01", "valid")
    before = snapshot(suite, app_id)
    form = factories.form_02_01()
    del form["staff"]
    error_of(put_form(suite, app_id, "02-01", form), 422, "validation_failed")
    assert snapshot(suite, app_id) == before
    assert suite.get_app(app_id)["forms"]["02-01"] == {"status": "valid", "revision": 1,
                                                       "findings": []}


# --- findings of the form validators -------------------------------------------------

def validator_findings(suite: Suite, code: str, form: dict) -> list[dict]:
    app_id = new_app(suite)
    res = put_form(suite, app_id, code, form)
    assert res.status_code == 202, res.get_json()
    return wait_form(suite, app_id, code, "invalid")["findings"]


def test_impossible_date_is_an_error_finding_on_application_date(suite):
    findings = validator_findings(suite, "02-01",
                                  factories.form_02_01(application_date="2026/13/40"))
    [f] = findings_at(findings, "application_date")
    assert (f["rule"], f["severity"]) == ("02-01.application_date.invalid", "error")
    assert "2026/13/40" in f["message"]


def test_japanese_era_date_is_an_error_finding_on_application_date(suite):
    findings = validator_findings(suite, "02-01",
                                  factories.form_02_01(application_date="令和8年11月26日"))
    [f] = findings_at(findings, "application_date")
    assert (f["rule"], f["severity"]) == ("02-01.application_date.era", "error")
    assert "和暦" in f["message"]


def test_bad_phone_number_is_an_error_finding_on_that_row(suite):
    form = factories.form_02_02(normal_contacts=[
        {"priority": 1, "department": "情報政策課", "name": "", "phone": "03(1234)567",
         "email": "joho@example.lg.jp"}])
    findings = validator_findings(suite, "02-02", form)
    [f] = findings_at(findings, "normal_contacts[0].phone")
    assert (f["rule"], f["severity"]) == ("02-02.normal_contacts.phone", "error")
    assert "03(1234)567" in f["message"] and "桁数" in f["message"]


def test_duplicate_priorities_are_an_error_finding_on_the_list(suite):
    row = {"priority": 1, "department": "情報政策課", "name": "", "phone": "03-1234-5678",
           "email": "joho@example.lg.jp"}
    form = factories.form_02_02(normal_contacts=[row, {**row, "phone": "03-1234-5679"}])
    findings = validator_findings(suite, "02-02", form)
    [f] = findings_at(findings, "normal_contacts")
    assert (f["rule"], f["severity"]) == ("02-02.normal_contacts.priority_duplicate", "error")


def test_form_of_another_organisation_code_is_an_error_finding(suite):
    findings = validator_findings(suite, "02-01", factories.form_02_01(org="011002"))
    [f] = findings_at(findings, "org")
    assert (f["rule"], f["severity"]) == ("02-01.org_mismatch", "error")


def test_form_findings_block_submission_and_are_repeated_there(suite):
    app_id = new_app(suite)
    h = suite.headers("demo-applicant")
    forms = {**factories.all_forms(),
             "02-01": factories.form_02_01(application_date="2026/13/40")}
    factories.put_forms(suite.client, h, app_id, forms)
    wait_form(suite, app_id, "02-01", "invalid")
    for code in set(forms) - {"02-01"}:
        wait_form(suite, app_id, code, "valid")
    before = snapshot(suite, app_id)
    body = error_of(submit(suite, app_id), 422, "submission_blocked")
    assert [f["rule"] for f in body["findings"]] == ["02-01.application_date.invalid"]
    assert snapshot(suite, app_id) == before
    assert suite.get_app(app_id)["status"] == "draft"


def test_registry_search_refuses_an_offset_beyond_the_database_integer(suite):
    # found by the schemathesis run: a 22-digit offset overflowed the database driver
    h = suite.headers("demo-applicant")
    res = suite.client.get("/api/intake/organisations?offset=609295964438349742080", headers=h)
    assert res.status_code == 422, res.get_json()
    assert "offset" in res.get_json()["error"]["message"]
    assert JAPANESE.search(res.get_json()["error"]["message"])
    page = suite.client.get("/api/intake/organisations?limit=2&offset=2147483647", headers=h)
    assert page.status_code == 200 and page.get_json()["items"] == []
    assert suite.client.get("/api/intake/organisations?limit=1", headers=h).get_json()["limit"] == 1
