"""申請区分 per row of the list forms (03-07, 03-08, 03-09) against what is registered:
which operations a 接続申請 and a 変更申請 may carry, and the findings on the row's
申請区分 cell when they do not fit the registered rows."""
from __future__ import annotations

import copy

import pytest

from shared import rowops
from tests import form_data


def rules(found):
    return [(f.rule, f.severity, f.location) for f in found]


def registered_0307() -> dict:
    data = form_data.form_03_07()
    return rowops.fold_form(None, data, {"query_affairs": ("item_no",),
                                         "provided_info": ("info_no",)}, first=True)


def change_0307(*rows, provided=()) -> dict:
    return form_data.form_03_07(request_type="変更申請", query_affairs=list(rows),
                                provided_info=list(provided))


def row_of(registered: dict, **changes) -> dict:
    row = copy.deepcopy(registered["query_affairs"][0])
    row.update(changes)
    return row


@pytest.mark.parametrize("kind", ["変更", "削除", "変更なし"])
def test_a_connection_application_only_registers(check, kind):
    data = form_data.form_03_07()
    data["query_affairs"][0]["request_type"] = kind
    found = check("03-07", data)
    assert ("03-07.row.not_registered_yet", "error", "query_affairs[0].request_type") in rules(found)
    assert "変更申請" in next(f.message for f in found if f.rule.endswith("not_registered_yet"))


def test_a_change_that_registers_a_key_already_registered_is_an_error(check):
    reg = registered_0307()
    found = check("03-07", change_0307(row_of(reg, request_type="登録")), kind="change",
                  registered={"03-07": reg})
    assert ("03-07.row.already_registered", "error",
            "query_affairs[0].request_type") in rules(found)


@pytest.mark.parametrize("kind", ["変更", "削除", "変更なし"])
def test_a_change_of_a_key_not_registered_is_an_error(check, kind):
    reg = registered_0307()
    stranger = row_of(reg, item_no="百", request_type=kind)
    found = check("03-07", change_0307(stranger), kind="change", registered={"03-07": reg})
    assert ("03-07.row.not_registered", "error", "query_affairs[0].request_type") in rules(found)
    assert f"「{kind}」" in next(f.message for f in found if f.rule.endswith("not_registered"))


def test_a_deletion_must_leave_the_row_as_registered(check):
    reg = registered_0307()
    altered = row_of(reg, request_type="削除", pia={"status": "1000人未満", "reason": "",
                                                   "reports": []})
    found = check("03-07", change_0307(altered), kind="change", registered={"03-07": reg})
    assert ("03-07.row.delete_changed", "error", "query_affairs[0]") in rules(found)
    plain = row_of(reg, request_type="削除")
    found = check("03-07", change_0307(plain), kind="change", registered={"03-07": reg})
    assert not [f for f in found if f.rule.startswith("03-07.row.")]


def test_a_kept_row_must_equal_the_registered_one_and_a_change_must_change(check):
    reg = registered_0307()
    kept = row_of(reg, request_type="変更なし")
    assert not [f for f in check("03-07", change_0307(kept), kind="change",
                                 registered={"03-07": reg}) if f.rule.startswith("03-07.row.")]
    same = row_of(reg, request_type="変更")
    found = check("03-07", change_0307(same), kind="change", registered={"03-07": reg})
    assert ("03-07.row.change_unchanged", "warning", "query_affairs[0].request_type") in rules(found)
    edited = row_of(reg, request_type="変更", pia={"status": "1000人未満", "reason": "",
                                                   "reports": []})
    assert not [f for f in check("03-07", change_0307(edited), kind="change",
                                 registered={"03-07": reg}) if f.rule.startswith("03-07.row.")]


def test_an_unknown_row_type_is_a_finding_on_its_cell(check):
    data = form_data.form_03_07()
    data["query_affairs"][0]["request_type"] = "追加"
    found = check("03-07", data)
    assert any(f.location == "query_affairs.0.request_type" or
               f.location == "query_affairs[0].request_type" for f in found), rules(found)


def test_03_08_rows_are_keyed_by_item_and_counterpart_and_blank_means_registration(check):
    data = form_data.form_03_08_full()
    for key in ("query_delegations", "provision_delegations", "provision_acceptances"):
        for row in data[key]:
            row.pop("request_type", None)
    keys = {"query_delegations": ("item_no",), "provision_delegations": ("info_no", "delegatee"),
            "provision_acceptances": ("info_no", "delegator")}
    reg = rowops.fold_form(None, data, keys, first=True)
    change = copy.deepcopy(data)
    change["request_type"] = "変更申請"
    # the same 情報 delegated to another organisation is another row: 登録 is right
    change["provision_delegations"] = [dict(data["provision_delegations"][0],
                                            delegatee="131024", request_type="登録")]
    change["query_delegations"], change["provision_acceptances"] = [], []
    found = check("03-08", change, kind="change", registered={"03-08": reg})
    assert not [f for f in found if f.rule.startswith("03-08.row.")], rules(found)
    change["provision_delegations"][0]["delegatee"] = "132012"
    found = check("03-08", change, kind="change", registered={"03-08": reg})
    assert ("03-08.row.already_registered", "error",
            "provision_delegations[0].request_type") in rules(found)


def test_03_08_refuses_a_key_given_twice(check):
    data = form_data.form_03_08_full()
    data["provision_delegations"].append(copy.deepcopy(data["provision_delegations"][0]))
    found = check("03-08", data)
    assert ("03-08.provision_delegations.duplicate", "error", "provision_delegations[1]") in rules(found)


def test_fold_applies_each_row_by_key_and_leaves_the_rest():
    keys = {"rows": ("no",)}
    reg = {"rows": [{"no": "1", "v": "a"}, {"no": "2", "v": "b"}, {"no": "3", "v": "c"}]}
    change = {"title": "new", "rows": [
        {"no": "1", "v": "a", "request_type": "変更なし"},
        {"no": "2", "v": "B", "request_type": "変更"},
        {"no": "3", "v": "c", "request_type": "削除"},
        {"no": "4", "v": "d", "request_type": "登録"}]}
    assert rowops.fold_form(reg, change, keys) == {"title": "new", "rows": [
        {"no": "1", "v": "a"}, {"no": "2", "v": "B"}, {"no": "4", "v": "d"}]}
    # a change that mentions nothing leaves every registered row
    assert rowops.fold_form(reg, {"rows": []}, keys)["rows"] == reg["rows"]
    # forms the change does not include stay as registered; single-record forms replace
    folded = rowops.fold_forms({"A": {"x": 1}, "B": {"x": 2}}, {"B": {"x": 3}}, {})
    assert folded == {"A": {"x": 1}, "B": {"x": 3}}
    # a first application replaces everything, 削除 rows left out
    first = rowops.fold_forms({"A": {"x": 1}}, {"L": {"rows": [
        {"no": "1", "request_type": "登録"}, {"no": "2", "request_type": "削除"}]}},
        {"L": keys}, first=True)
    assert first == {"L": {"rows": [{"no": "1"}]}}
