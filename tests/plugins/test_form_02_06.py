"""様02-06: the self-check of every 重点報告事項, reported by the 情報システム責任者."""
from __future__ import annotations

import pytest

from tests import form_data
from tests.plugins.conftest import all_forms, rules


def checks(**replace):
    rows = form_data.form_02_06()["checks"]
    for i, row in replace.items():
        rows[int(i.lstrip("_"))] = row
    return rows


def test_a_missing_item_is_named(check):
    rows = form_data.form_02_06()["checks"][:-1]
    found = check("02-06", form_data.form_02_06(checks=rows))
    assert rules(found) == [("02-06.checks.missing_item", "error", "checks")]
    assert "時刻同期" in found[0].message


def test_an_item_not_of_its_category(check):
    rows = checks(_0={"category": 2, "item": "責任体制の整備", "result": "実施", "note": ""})
    found = check("02-06", form_data.form_02_06(checks=rows))
    assert rules(found) == [("02-06.checks.unknown_item", "error", "checks[0].item"),
                            ("02-06.checks.missing_item", "error", "checks")]


def test_a_duplicate_item(check):
    rows = form_data.form_02_06()["checks"]
    rows.append(dict(rows[0]))
    found = check("02-06", form_data.form_02_06(checks=rows))
    assert rules(found) == [("02-06.checks.duplicate", "error", "checks[14].item")]


@pytest.mark.parametrize("result", ["一部実施", "未実施"])
def test_partly_or_not_done_without_a_note_is_a_warning(check, result):
    rows = checks(_3={"category": 2, "item": "業者の選定基準の規定", "result": result, "note": ""})
    assert rules(check("02-06", form_data.form_02_06(checks=rows))) == [
        ("02-06.checks.note_missing", "warning", "checks[3].note")]
    rows[3]["note"] = "令和9年度に規定を整備する予定"
    assert check("02-06", form_data.form_02_06(checks=rows)) == []


@pytest.mark.parametrize("row, location", [
    ({"category": 1, "item": "責任体制の整備", "result": "済", "note": ""}, "checks.0.result"),
    ({"category": 6, "item": "責任体制の整備", "result": "実施", "note": ""}, "checks.0.category")])
def test_result_and_category_outside_their_lists(check, row, location):
    found = check("02-06", form_data.form_02_06(checks=checks(_0=row)))
    assert rules(found) == [("02-06.schema", "error", location)]


def test_reporter_is_required(check):
    found = check("02-06", form_data.form_02_06(reporter={"title": "情報政策担当部長", "name": ""}))
    assert rules(found) == [("02-06.required.reporter.name", "error", "reporter.name")]


def test_a_reporter_other_than_the_system_chief_is_an_error(check_app):
    forms = all_forms(**{"02-06": form_data.form_02_06(reporter={"title": "情報政策課長", "name": "佐藤 二郎"})})
    found = check_app(forms)
    assert rules(found) == [("02-06.reporter_not_system_chief", "error", "02-06.reporter")]
    assert "山田 一郎" in found[0].message and "佐藤 二郎" in found[0].message


def test_the_same_reporter_written_without_the_space_is_the_same_person(check_app):
    forms = all_forms(**{"02-06": form_data.form_02_06(reporter={"title": "情報政策担当部長", "name": "山田一郎"})})
    assert check_app(forms) == []
