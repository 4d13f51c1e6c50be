"""Property: whatever sequence of approved applications arrives — a 接続申請, then
変更申請 whose rows say 登録 / 変更 / 削除 / 変更なし, forms included or not — after
each registration the master's rows of the organisation equal a reference fold of the
approved row operations (shared.rowops) written out whole. The master applies each
registration incrementally to its stored rows; the reference rebuilds from scratch."""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.master.content import LIST_TABLES, rows_from
from shared import rowops
from tests import factories
from tests.conftest import Suite
from tests.master import approved

ORGS = ("131016", "131024")
ROW_KEYS = {"03-07": {"query_affairs": ("item_no",), "provided_info": ("info_no",)},
            "03-08": {"query_delegations": ("item_no",),
                      "provision_delegations": ("info_no", "delegatee"),
                      "provision_acceptances": ("info_no", "delegator")},
            "03-09": {"independent_affairs": ("case_no",)}}
ITEMS = ("1", "2", "3", "4", "5")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    suite = Suite(tmp_path_factory.mktemp("row-ops-property") / "var")
    state = {"suite": suite, "version": 0, "reference": {}}
    yield state
    suite.close()


def affair(no: str, variant: int) -> dict:
    return {"item_no": no, "affair": f"別表 項番{no} の事務",
            "pia": {"status": "1000人未満", "reason": "", "reports": []} if variant % 2
            else copy.deepcopy(approved.PIA_DONE)}


def case(no: str, variant: int) -> dict:
    return {"case_no": no, "affair": f"独自利用事務 {no}（版 {variant}）",
            "ppc_notification_no": f"PPC-{no}", "ordinance": "個人番号利用条例"}


def provision(no: str, variant: int) -> dict:
    return {"info_no": f"P{no}", "info_name": f"特定個人情報 {no}",
            "delegatee": ("131024", "132012")[variant % 2]}


ROWS = {("03-07", "query_affairs"): affair, ("03-09", "independent_affairs"): case,
        ("03-08", "provision_delegations"): provision}


# One step, drawn without looking at the state (so hypothesis can replay it): per form
# whether it is included, and rows as (number, variant, operation choice). The choice is
# read against what is registered when the step runs: a key not registered is 登録; a
# registered key is 変更, 削除 or 変更なし.
STEP = st.fixed_dictionaries({
    "org": st.sampled_from(ORGS),
    "forms": st.fixed_dictionaries({
        form: st.one_of(st.none(), st.lists(
            st.tuples(st.sampled_from(ITEMS), st.integers(0, 3), st.integers(0, 2)),
            max_size=4, unique_by=lambda r: r[0]))
        for form in ROWS}),
    "chief": st.one_of(st.none(), st.integers(0, 3)),
})
OPS = ("変更", "削除", "変更なし")


def application(step: dict, reference: dict) -> tuple[str, str, dict]:
    """(org, kind, forms) of the approved application ``step`` describes."""
    org = step["org"]
    first = org not in reference
    registered = reference.get(org, {})
    header = {"org": org, "application_date": "2026/11/26",
              "request_type": "登録申請" if first else "変更申請",
              "writer": dict(factories.WRITER)}
    forms: dict[str, dict] = {}
    for (code, field), drawn in step["forms"].items():
        if drawn is None and not first:
            continue           # a change need not include every form
        columns = ROW_KEYS[code][field]
        held = {rowops.key_of(r, columns): r for r in (registered.get(code) or {}).get(field, [])}
        rows = []
        for no, variant, choice in drawn or ():
            row = ROWS[(code, field)](no, variant)
            key = rowops.key_of(row, columns)
            if key in held and not first:
                op = OPS[choice]
                rows.append({**(row if op == "変更" else held[key]), "request_type": op})
            else:
                rows.append({**row, "request_type": "登録"})
        form = forms.setdefault(code, dict(header))
        for other in ROW_KEYS[code]:
            form.setdefault(other, [])
        form[field] = rows
    if first or step["chief"] is not None:
        forms["02-01"] = factories.form_02_01(
            org, system_chief={"title": "部長", "name": f"責任者 {step['chief'] or 0}"})
    return org, "connection" if first else "change", forms


def master_rows(suite, version: int, org: str) -> dict:
    body = approved.api(suite, "get", f"/api/master/versions/{version}").get_json()
    return {t: {r["key"]: r["data"] for r in rows if r["data"].get("org_id") == org}
            for t, rows in body["tables"].items() if t in LIST_TABLES or t == "responsibility"}


def expected_rows(org: str, forms: dict) -> dict:
    written = rows_from(approved.ORGS[org], forms, "2025-09-24", [], kind="connection")
    return {t: c.rows for t, c in written.items() if t in LIST_TABLES or t == "responsibility"}


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=4))
def test_master_rows_equal_the_reference_fold_after_every_registration(world, steps):
    suite, reference = world["suite"], world["reference"]
    for step in steps:
        org, kind, forms = application(step, reference)
        world["version"] += 1
        approved.register(suite, approved.payload(org, forms, kind=kind), world["version"])
        reference[org] = rowops.fold_forms(reference.get(org, {}), forms,
                                           {c: dict(k) for c, k in ROW_KEYS.items()},
                                           first=kind == "connection")
        got = master_rows(suite, world["version"], org)
        want = expected_rows(org, reference[org])
        for table in set(got) | set(want):
            assert got.get(table, {}) == want.get(table, {}), (table, forms)
