"""様03-06: the summary form and its check boxes against what is actually filed."""
from __future__ import annotations

import pytest

import datetime as dt

from plugins.forms.common import today_in_japan
from tests import form_data
from tests.plugins.conftest import KOUKI, all_forms, rules

NEXT_YEAR = f"{today_in_japan().year + 1}/03/31"


def test_valid_from_must_be_blank(check):
    found = check("03-06", form_data.form_03_06(valid_from="2027/04/01"))
    assert rules(found) == [("03-06.valid_from.filled", "error", "valid_from")]


def test_end_undetermined_unchecked_without_an_end_date(check):
    found = check("03-06", form_data.form_03_06(valid_to_undetermined=False))
    assert rules(found) == [("03-06.valid_to.missing", "error", "valid_to")]
    assert check("03-06", form_data.form_03_06(valid_to_undetermined=False,
                                                valid_to=NEXT_YEAR)) == []


def test_end_undetermined_and_an_end_date_contradict(check):
    found = check("03-06", form_data.form_03_06(valid_to=NEXT_YEAR))
    assert rules(found) == [("03-06.valid_to.contradiction", "error", "valid_to")]


@pytest.mark.parametrize("value, rule", [("2030-03-31", "format"), ("2030/02/30", "invalid"),
                                         ("令和12年3月31日", "era")])
def test_the_end_date_is_a_real_western_date(check, value, rule):
    found = check("03-06", form_data.form_03_06(valid_to_undetermined=False, valid_to=value))
    assert rules(found) == [(f"03-06.valid_to.{rule}", "error", "valid_to")]


def test_the_end_date_must_not_be_in_the_past(check, monkeypatch):
    # 2026-12-02 23:30 UTC is already 2026-12-03 in Japan
    monkeypatch.setattr("plugins.forms.common._now_utc",
                        lambda: dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.timezone.utc))
    found = check("03-06", form_data.form_03_06(valid_to_undetermined=False, valid_to="2026/12/02"))
    assert rules(found) == [("03-06.valid_to.past", "error", "valid_to")]
    assert "過去" in found[0].message and "2026/12/03" in found[0].message
    for date in ("2026/12/03", "2027/03/31"):
        assert check("03-06", form_data.form_03_06(valid_to_undetermined=False, valid_to=date)) == []


def test_asp_unchecked_by_a_local_government(check):
    found = check("03-06", form_data.form_03_06(uses_interface_asp=False))
    assert rules(found) == [("03-06.uses_interface_asp.unchecked", "error", "uses_interface_asp")]


def test_asp_may_be_unchecked_by_a_kouki_koureisha_union(check):
    data = form_data.form_03_06(org=KOUKI["id"], uses_interface_asp=False)
    assert check("03-06", data, org=KOUKI) == []


def test_address_is_required(check):
    assert rules(check("03-06", form_data.form_03_06(address=" "))) == [
        ("03-06.required.address", "error", "address")]


def test_an_unknown_form_code_or_a_duplicate_box(check):
    assert rules(check("03-06", form_data.form_03_06(attached_forms=["02-01", "03-06"]))) == [
        ("03-06.schema", "error", "attached_forms.1")]
    assert rules(check("03-06", form_data.form_03_06(attached_forms=["02-01", "02-01"]))) == [
        ("03-06.attached_forms.duplicate", "error", "attached_forms")]


def test_boxes_that_agree_with_the_forms_filed(check_app):
    assert check_app(all_forms()) == []


def test_03_09_checked_but_not_filed(check_app):
    boxes = ["02-01", "02-02", "02-06", "03-07", "03-08", "03-09"]
    found = check_app(all_forms(**{"03-06": form_data.form_03_06(attached_forms=boxes)}))
    assert rules(found) == [("03-06.attached_forms.not_filed", "error", "03-06.attached_forms")]
    assert "様03-09" in found[0].message


def test_03_09_filed_but_not_checked(check_app):
    found = check_app(all_forms(**{"03-09": form_data.form_03_09()}))
    assert rules(found) == [("03-06.attached_forms.unchecked", "error", "03-06.attached_forms")]


def test_other_checked_without_attachments(check_app):
    boxes = ["02-01", "02-02", "02-06", "03-07", "03-08", "other"]
    found = check_app(all_forms(**{"03-06": form_data.form_03_06(attached_forms=boxes)}))
    assert rules(found) == [("03-06.attached_forms.other_without_attachments", "error",
                             "03-06.attached_forms<other>")]
    assert check_app(all_forms(**{"03-06": form_data.form_03_06(attached_forms=boxes)}),
                     attachments=["att-1"]) == []


def test_attachments_without_other_checked(check_app):
    found = check_app(all_forms(), attachments=["att-1", "att-2"])
    assert rules(found) == [("03-06.attached_forms.attachments_without_other", "error",
                             "03-06.attached_forms<other>")]


def test_その他_findings_mark_the_その他_box_in_the_workbook(pm, check_app):
    """The application-level finding lands on the cell of the その他 check box, not on the
    first box of the list."""
    from shared import workbook as wbk
    from shared.pluginmanager import form_specs

    [found] = check_app(all_forms(), attachments=["A001"])
    cells = form_specs(pm)["03-06"].layout.locations(form_data.form_03_06())
    where = cells[wbk.bracket(found.location, "03-06")]
    assert where != cells["attached_forms<02-01>"] and where.startswith("「様03-06」シート")
