"""様03-09: independent-use affairs, filed only with 条例連携."""
from __future__ import annotations

import pytest

from plugins.forms.form_03_09 import COLUMNS
from tests import form_data
from tests.plugins.conftest import all_forms, rules


def test_never_required_by_itself(pm):
    from shared.pluginmanager import form_specs

    spec = form_specs(pm)["03-09"]
    assert not spec.required_for("connection", {"kind": "市"})


def test_filed_and_checked_on_03_06_is_consistent(check_app):
    boxes = ["02-01", "02-02", "02-06", "03-07", "03-08", "03-09"]
    forms = all_forms(**{"03-09": form_data.form_03_09(),
                         "03-06": form_data.form_03_06(attached_forms=boxes)})
    assert check_app(forms) == []


def test_no_affairs(check):
    assert rules(check("03-09", form_data.form_03_09(independent_affairs=[]))) == [
        ("03-09.rows_missing", "error", "independent_affairs")]


@pytest.mark.parametrize("key", [k for k, _ in COLUMNS])
def test_every_column_is_required(check, key):
    data = form_data.form_03_09()
    data["independent_affairs"][0][key] = ""
    assert rules(check("03-09", data)) == [
        (f"03-09.required.{key}", "error", f"independent_affairs[0].{key}")]


def test_a_repeated_case_number(check):
    data = form_data.form_03_09()
    data["independent_affairs"].append(dict(data["independent_affairs"][0]))
    assert rules(check("03-09", data)) == [
        ("03-09.case_no.duplicate", "error", "independent_affairs[1].case_no")]


@pytest.mark.parametrize("ordinance", [
    "千代田区行政手続における特定の個人を識別するための番号の利用等に関する法律に基づく個人番号の利用に関する条例",
    "八王子市個人番号の利用に関する条例（平成２７年条例第３５号）",
    "「千代田区子ども医療費の助成に関する条例」 ",
    "千代田区子ども医療費の助成に関する条例第2条"])
def test_an_ordinance_is_accepted(check, ordinance):
    data = form_data.form_03_09()
    data["independent_affairs"][0]["ordinance"] = ordinance
    assert check("03-09", data) == []


@pytest.mark.parametrize("ordinance, kind", [
    ("千代田区個人番号の利用に関する規則", "規則"),
    ("千代田区子ども医療費助成事業実施要綱", "要綱"),
    ("条例に基づく子ども医療費助成の事務取扱要領", "要領"),
    ("子ども医療費の助成に関する条例の運用について（通知）", ""),
    ("子ども医療費助成", "")])
def test_a_basis_that_is_not_an_ordinance_is_refused(check, ordinance, kind):
    data = form_data.form_03_09()
    data["independent_affairs"][0]["ordinance"] = ordinance
    found = check("03-09", data)
    assert rules(found) == [("03-09.ordinance.not_ordinance", "error",
                             "independent_affairs[0].ordinance")]
    assert f"「{ordinance}」" in found[0].message and "条例" in found[0].message
    if kind:
        assert f"{kind}です" in found[0].message
