"""様02-01: ① 情報システム責任者, ② 情報システム管理者, ③ 担当 are all required."""
from __future__ import annotations

import pytest

from tests import factories
from tests.plugins.conftest import rules

PARTS = [("system_chief", "title"), ("system_chief", "name"), ("system_manager", "title"),
         ("system_manager", "name"), ("staff", "section"), ("staff", "unit")]


@pytest.mark.parametrize("part, key", PARTS)
def test_each_part_of_1_2_3_is_required(check, part, key):
    data = factories.form_02_01()
    data[part][key] = "　"
    found = check("02-01", data)
    assert rules(found) == [(f"02-01.required.{part}.{key}", "error", f"{part}.{key}")]
    assert "を入力してください" in found[0].message


@pytest.mark.parametrize("part", ["system_chief", "system_manager", "staff"])
def test_a_missing_part_is_a_schema_error_at_its_path(check, part):
    data = factories.form_02_01()
    del data[part]
    assert rules(check("02-01", data)) == [("02-01.schema", "error", part)]


def test_full_width_input_is_normalised(check):
    data = factories.form_02_01(system_chief={"title": "　情報政策担当部長　", "name": "山田　一郎"})
    assert check("02-01", data) == []
