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
