"""Property of the whole lifecycle, through the embedded suite's HTTP APIs and worker:
random sequences of 接続申請 and 変更申請 (rows 登録 / 変更 / 削除 / 変更なし), rejections
with resubmission and withdrawals, for two organisations with a delegation between
them. After every step that registers, the master's rows of the organisation equal a
reference fold of the approved row operations (shared.rowops, written out whole), and
intake's registered copy says the same; after every step the matching results equal a
full re-match from scratch."""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.master.content import LIST_TABLES, rows_from
from services.matching import matcher
from shared import rowops
from tests import factories, form_data
from tests.conftest import Suite, wait_for

A, B = "131016", "131024"
LOGINS = {A: "demo-applicant", B: "prop-applicant-b"}
INFO = {"info_no": "EX0002", "info_name": "【例】住民票関係情報（例示・法令ではない）"}
BASIS = {"article": "地方自治法第252条の14", "rule_title": "事務の委託に関する規約",
         "attachment_id": form_data.EVIDENCE}
KEYS = {"03-08": {"query_delegations": ("item_no",),
                  "provision_delegations": ("info_no", "delegatee"),
                  "provision_acceptances": ("info_no", "delegator")},
        "03-09": {"independent_affairs": ("case_no",)}}
CASES = ("0001", "0002", "0003")
OPS = ("変更", "削除", "変更なし")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("lifecycle-property") / "var")
    suite.add_user(LOGINS[B], B, "applicant")
    yield {"suite": suite, "reference": {}}
    suite.close()


def affair(org: str, case: str, variant: int) -> dict:
    return {"case_no": case, "affair": f"独自利用事務 {case}（第{variant}版）",
            "ppc_notification_no": f"PPC-{org}-{case}", "ordinance": "個人番号の利用に関する条例"}


def delegation_row(org: str) -> tuple[str, dict]:
    if org == A:
        return "provision_delegations", {**INFO, "delegatee": B}
    return "provision_acceptances", {**INFO, "delegator": A, "basis": dict(BASIS)}


STEP = st.fixed_dictionaries({
    "org": st.sampled_from((A, B)),
    "cases": st.lists(st.tuples(st.sampled_from(CASES), st.integers(0, 2), st.integers(0, 2)),
                      max_size=3, unique_by=lambda c: c[0]),
    "toggle_delegation": st.booleans(),
    "fate": st.sampled_from(("approve", "approve", "reject_then_approve", "withdraw")),
})


def application(step: dict, reference: dict) -> tuple[str, str, dict]:
    """(kind, org, forms) of the application ``step`` describes, given what is registered."""
    org = step["org"]
    registered = reference.get(org)
    header = {"org": org, "application_date": "2026/11/30", "writer": dict(factories.WRITER)}
    field, row = delegation_row(org)
    if registered is None:
        forms = factories.all_forms(org)
        f0308 = form_data.form_03_08(org)
        if step["toggle_delegation"]:
            f0308[field] = [{**row, "request_type": "登録"}]
        forms["03-08"] = f0308
        cases = [affair(org, c, v) for c, v, _ in step["cases"]]
        if cases:
            forms["03-09"] = {**header, "request_type": "登録申請",
                              "independent_affairs": [{**c, "request_type": "登録"} for c in cases]}
            forms["03-06"] = form_data.form_03_06(org, attached_forms=[
                "02-01", "02-02", "02-06", "03-07", "03-08", "03-09"])
        return "connection", org, forms
    forms = {}
    held = {r["case_no"]: r for r in (registered.get("03-09") or {}).get("independent_affairs", [])}
    rows = []
    for case, variant, op in step["cases"]:
        new = affair(org, case, variant)
        if case in held:
            kind = OPS[op]
            rows.append({**(new if kind == "変更" else held[case]), "request_type": kind})
        else:
            rows.append({**new, "request_type": "登録"})
    if rows and (held or any(r["request_type"] == "登録" for r in rows)):
        forms["03-09"] = {**header, "request_type": "変更申請", "independent_affairs": rows}
    if step["toggle_delegation"]:
        current = (registered.get("03-08") or {}).get(field) or []
        f0308 = {**header, "request_type": "変更申請", "query_delegations": [],
                 "provision_delegations": [], "provision_acceptances": []}
        f0308[field] = ([{**current[0], "request_type": "削除"}] if current
                        else [{**row, "request_type": "登録"}])
        forms["03-08"] = f0308
    if not forms:   # a change must change something: 02-01 with a new chief's title
        forms["02-01"] = factories.form_02_01(org, request_type="変更申請",
                                              application_date="2026/11/30")
    return "change", org, forms


def selection_for(org: str, forms: dict, registered: dict | None) -> dict:
    """The selection the 様03-08 rows presuppose (the delegation chosen while it is
    filed or registered and not deleted)."""
    f0308 = forms.get("03-08") or (registered or {}).get("03-08") or {}
    field, _row = delegation_row(org)
    live = [r for r in f0308.get(field) or [] if r.get("request_type") != "削除"]
    return form_data.selection_for({field: live})


def wait_valid(suite, login, app_id):
    return wait_for(lambda: (lambda a: a if all(f["status"] != "validating"
                                                for f in a["forms"].values()) else None)(
        suite.get_app(app_id, login)), what="forms validated")


def decide(suite, login, app_id, result="承認", comment=""):
    res = suite.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={"result": result, "comment": comment},
                            headers=suite.headers(login))
    if res.status_code == 409 and res.get_json()["error"]["code"] == "unresolved_matching":
        res = suite.client.post(f"/api/review/applications/{app_id}/decisions",
                                json={"result": result, "comment": "相手方の申請待ちを確認",
                                      "acknowledge_matching": True},
                                headers=suite.headers(login))
    assert res.status_code == 201, res.get_json()


def run(suite, kind, org, forms, selection, fate) -> str:
    login = LOGINS[org]
    h = suite.headers(login)
    app_id = factories.create_application(suite.client, h, kind=kind)
    res = suite.client.put(f"/api/intake/applications/{app_id}/selection", json=selection,
                           headers=h)
    assert res.status_code == 200, res.get_json()
    if any(r.get("request_type") == "登録" for r in (forms.get("03-08") or {}).get(
            "provision_acceptances", [])):   # a new basis: its 規約 is attached
        forms = factories.attach_evidence(suite.client, h, app_id, forms)
    factories.put_forms(suite.client, h, app_id, forms)
    app = wait_valid(suite, login, app_id)
    errors = {c: [f for f in f_["findings"] if f["severity"] == "error"]
              for c, f_ in app["forms"].items()}
    assert not any(errors.values()), errors
    assert suite.client.post(f"/api/intake/applications/{app_id}/submit",
                             headers=h).status_code == 202
    suite.wait_status(app_id, "primary_review", login)
    if fate == "withdraw":
        assert suite.client.post(f"/api/intake/applications/{app_id}/withdraw",
                                 headers=h).status_code == 202
        suite.wait_status(app_id, "withdrawn", login)
        return "withdrawn"
    if fate == "reject_then_approve":
        decide(suite, "demo-pref", app_id, "否認", "記載を確認してください。")
        suite.wait_status(app_id, "returned", login)
        assert suite.client.post(f"/api/intake/applications/{app_id}/submit",
                                 headers=h).status_code == 202
        suite.wait_status(app_id, "primary_review", login)
    decide(suite, "demo-pref", app_id)
    suite.wait_status(app_id, "secondary_review", login)
    decide(suite, "demo-mic", app_id)
    suite.wait_status(app_id, "registered", login)
    return "registered"


def master_rows(suite, org: str) -> dict:
    mic = suite.headers("demo-mic")
    newest = suite.client.get("/api/master/versions", headers=mic).get_json()["items"][0]
    body = suite.client.get(f"/api/master/versions/{newest['number']}", headers=mic).get_json()
    return {t: {r["key"]: {k: v for k, v in r["data"].items() if k != "matching_status"}
                for r in rows if r["data"].get("org_id") == org}
            for t, rows in body["tables"].items() if t in LIST_TABLES}


def expected_rows(org: str, forms: dict) -> dict:
    written = rows_from({"id": org, "name": "", "kind": "", "branch": "executive"}, forms,
                        None, [], kind="connection")
    return {t: {k: {n: v for n, v in d.items() if n != "catalog_version"}
                for k, d in c.rows.items()}
            for t, c in written.items() if t in LIST_TABLES and t not in (
                "query_affairs", "provided_info")}


def drained(suite) -> bool:
    from sqlalchemy import func, select

    for service in ("intake", "review", "matching", "master"):
        ctx = suite.ctx(service)
        with ctx.transaction() as session:
            if session.scalar(select(func.count()).select_from(ctx.Outbox)
                              .where(ctx.Outbox.acked_at.is_(None))):
                return False
    return True


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=3))
def test_master_and_matching_follow_every_lifecycle(world, steps):
    suite, reference = world["suite"], world["reference"]
    for step in steps:
        kind, org, forms = application(step, reference)
        selection = selection_for(org, forms, reference.get(org))
        outcome = run(suite, kind, org, copy.deepcopy(forms), selection, step["fate"])
        if outcome == "registered":
            reference[org] = rowops.fold_forms(reference.get(org, {}), forms,
                                               {c: dict(k) for c, k in KEYS.items()},
                                               first=kind == "connection")
            got = master_rows(suite, org)
            want = expected_rows(org, reference[org])
            for table in want:
                assert got.get(table, {}) == want[table], (table, step)
            registered = suite.client.get("/api/intake/registered",
                                          headers=suite.headers(LOGINS[org])).get_json()
            assert ({r["case_no"] for r in (registered["forms"].get("03-09") or {}).get(
                "independent_affairs", [])} == {r["case_no"] for r in (reference[org].get(
                    "03-09") or {}).get("independent_affairs", [])})
        wait_for(lambda: drained(suite), what="every message processed")
        with suite.ctx("matching").transaction() as session:
            assert matcher.rematch_all(session) == 0, "incremental matching differs from a full re-match"
