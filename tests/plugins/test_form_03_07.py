"""様03-07: the rows of (1) and (2), their PIA, and the selection."""
from __future__ import annotations

import pytest

from tests import form_data
from tests.plugins.conftest import rules


def with_pia(pia, key="query_affairs"):
    data = form_data.form_03_07()
    data[key][0]["pia"] = pia
    return data


def test_no_rows_at_all(check):
    found = check("03-07", form_data.form_03_07(query_affairs=[], provided_info=[]))
    assert rules(found) == [("03-07.rows_missing", "error", "query_affairs")]


def test_a_duplicate_row(check):
    data = form_data.form_03_07()
    data["query_affairs"].append(dict(data["query_affairs"][0]))
    assert rules(check("03-07", data)) == [
        ("03-07.query_affairs.duplicate", "error", "query_affairs[1].item_no")]


@pytest.mark.parametrize("key", ["query_affairs", "provided_info"])
def test_done_without_any_report(check, key):
    found = check("03-07", with_pia({"status": "実施済", "reason": "", "reports": []}, key))
    assert rules(found) == [("03-07.pia.reports_missing", "error", f"{key}[0].pia.reports")]


@pytest.mark.parametrize("field", ["number", "name"])
def test_done_with_a_report_lacking_its_number_or_name(check, field):
    found = check("03-07", with_pia(form_data.pia_done(**{field: ""}) if field == "number"
                                    else form_data.pia_done(name="")))
    assert rules(found) == [("03-07.pia.report_incomplete", "error",
                             f"query_affairs[0].pia.reports[0].{field}")]


def test_done_with_a_reason_is_a_warning(check):
    found = check("03-07", with_pia(dict(form_data.pia_done(), reason="念のため")))
    assert rules(found) == [("03-07.pia.reason_unexpected", "warning", "query_affairs[0].pia.reason")]


def test_fewer_than_1000_needs_no_reason(check):
    assert check("03-07", with_pia({"status": "1000人未満", "reason": "", "reports": []})) == []


def test_other_without_a_reason(check):
    found = check("03-07", with_pia({"status": "その他", "reason": "", "reports": []}))
    assert rules(found) == [("03-07.pia.reason_missing", "error", "query_affairs[0].pia.reason")]
    assert check("03-07", with_pia({"status": "その他", "reason": "評価の対象外（職員数のみの情報）",
                                    "reports": []})) == []


def test_reports_given_while_not_done_is_a_warning(check):
    pia = dict(form_data.pia_done(), status="1000人未満")
    assert rules(check("03-07", with_pia(pia))) == [
        ("03-07.pia.reports_unexpected", "warning", "query_affairs[0].pia.reports")]


def test_an_unpublished_report_must_be_attached(check):
    found = check("03-07", with_pia(form_data.pia_done(published=False)))
    assert rules(found) == [("03-07.pia.report_not_attached", "error",
                             "query_affairs[0].pia.reports[0].attachment_id")]
    data = with_pia(form_data.pia_done(published=False, attachment_id="att-7"))
    assert check("03-07", data, attachments=["att-7"]) == []


def test_an_attachment_reference_that_is_not_attached(check):
    data = with_pia(form_data.pia_done(published=False, attachment_id="att-9"))
    assert rules(check("03-07", data, attachments=["att-7"])) == [
        ("03-07.pia.attachment_unknown", "error", "query_affairs[0].pia.reports[0].attachment_id")]


def test_a_pia_status_outside_the_list(check):
    assert rules(check("03-07", with_pia({"status": "未実施", "reason": "", "reports": []}))) == [
        ("03-07.schema", "error", "query_affairs.0.pia.status")]


SELECTION = {"query_affairs": [{"item_no": "九", "choice": "照会する", "delegators": []},
                               {"item_no": "十", "choice": "受任事務", "delegators": ["132012"]}],
             "provided_info": [{"info_no": "001", "choice": "提供する", "counterpart": None}]}


def test_rows_not_in_the_selection(check):
    data = form_data.form_03_07()
    data["provided_info"][0]["info_no"] = "099"
    found = check("03-07", data, selection=SELECTION)
    assert rules(found) == [
        ("03-07.query_affairs.selected_missing", "warning", "query_affairs"),
        ("03-07.provided_info.not_selected", "error", "provided_info[0].info_no"),
        ("03-07.provided_info.selected_missing", "warning", "provided_info")]


def test_rows_that_match_the_selection(check):
    data = form_data.form_03_07()
    data["query_affairs"].append(dict(data["query_affairs"][0], item_no="十"))
    assert check("03-07", data, selection=SELECTION) == []


def test_a_declined_row_is_not_selected(check):
    selection = {"query_affairs": [{"item_no": "九", "choice": "情報照会を行わない"}],
                 "provided_info": SELECTION["provided_info"]}
    assert rules(check("03-07", form_data.form_03_07(), selection=selection)) == [
        ("03-07.query_affairs.not_selected", "error", "query_affairs[0].item_no")]


def test_without_a_known_selection_the_check_is_skipped(check):
    data = form_data.form_03_07()
    data["provided_info"][0]["info_no"] = "099"
    assert check("03-07", data, selection=None) == []


# --- names are the law's -------------------------------------------------------------

KANSEN = form_data.beppyo_affair("百五")   # 感染症の予防及び…（平成十年法律第百十四号）…
NAMED = {"query_affairs": [{"item_no": "百五", "affair": KANSEN, "choice": "照会する",
                            "delegators": []}],
         "provided_info": [{"info_no": "EX0001", "info_name": "【例】地方税関係情報（例示・法令ではない）",
                            "choice": "提供する", "counterpart": None}]}


def named_form(affair=KANSEN, info_name="【例】地方税関係情報（例示・法令ではない）"):
    data = form_data.form_03_07()
    data["query_affairs"][0].update(item_no="百五", affair=affair)
    data["provided_info"][0].update(info_no="EX0001", info_name=info_name)
    return data


def test_names_equal_to_the_catalog_s_text_pass(check):
    assert "（" in KANSEN
    assert check("03-07", named_form(), selection=NAMED) == []


@pytest.mark.parametrize("affair", [
    KANSEN.replace("（", "(").replace("）", ")"),       # half-width brackets
    KANSEN + " ",                                        # a trailing space
    KANSEN.replace("平成十年", "平成10年"),                # digits instead of the law's kanji
    "感染症法による入院勧告の事務"])                        # a name of one's own
def test_an_affair_name_that_is_not_the_law_s_text(check, affair):
    found = check("03-07", named_form(affair=affair), selection=NAMED)
    assert rules(found) == [("03-07.query_affairs.affair_mismatch", "error",
                             "query_affairs[0].affair")]
    assert f"「{KANSEN}」" in found[0].message and "項番 百五" in found[0].message


def test_an_info_name_that_is_not_the_catalog_s_text(check):
    found = check("03-07", named_form(info_name="【例】地方税関係情報(例示・法令ではない)"),
                  selection=NAMED)
    assert rules(found) == [("03-07.provided_info.info_name_mismatch", "error",
                             "provided_info[0].info_name")]
    assert "「【例】地方税関係情報（例示・法令ではない）」" in found[0].message


def test_the_message_names_the_catalog_version(pm):
    from services.intake import validation
    from tests.plugins.conftest import context

    ctx = context(selection=NAMED)
    ctx.application = dict(ctx.application, catalog_version="v3-abcdef0123")
    found = validation.validate_form(pm, "03-07", named_form(affair="違う名称"), ctx)
    assert "法令カタログ（v3-abcdef0123）" in found[0].message


def test_a_row_outside_the_selection_gets_not_selected_only(check):
    data = named_form(affair="違う名称")
    data["query_affairs"][0]["item_no"] = "百六"
    assert rules(check("03-07", data, selection=NAMED)) == [
        ("03-07.query_affairs.not_selected", "error", "query_affairs[0].item_no"),
        ("03-07.query_affairs.selected_missing", "warning", "query_affairs")]


# --- a blank PIA cell means 実施済 ---------------------------------------------------

@pytest.mark.parametrize("status", ["", "  ", None, "missing"])
def test_a_blank_pia_status_is_done(check, status):
    pia = form_data.pia_done()
    if status == "missing":
        del pia["status"]
    else:
        pia["status"] = status
    assert check("03-07", with_pia(pia)) == []


@pytest.mark.parametrize("key", ["query_affairs", "provided_info"])
@pytest.mark.parametrize("pia", [{"status": "", "reason": "", "reports": []}, {}, None, "missing"])
def test_a_blank_pia_still_needs_its_reports(check, key, pia):
    data = with_pia(pia, key)
    if pia == "missing":
        del data[key][0]["pia"]
    found = check("03-07", data)
    assert rules(found) == [("03-07.pia.reports_missing", "error", f"{key}[0].pia.reports")]
    assert "空欄" in found[0].message


def test_a_blank_pia_cell_in_the_workbook_reads_as_done(pm):
    from shared import workbook as wbk
    from services.intake import validation
    from shared.pluginmanager import form_specs
    from tests.plugins.conftest import context

    layout = form_specs(pm)["03-07"].layout
    data = form_data.form_03_07()
    data["query_affairs"][0]["pia"]["status"] = ""
    [result] = wbk.read_workbook(wbk.write_form(layout, data, {}), {"03-07": layout})
    assert result.data["query_affairs"][0]["pia"]["status"] == ""
    assert validation.validate_form(pm, "03-07", result.data, context()) == []
    loaded, _ = validation.load_form(form_specs(pm)["03-07"], result.data)
    assert loaded["query_affairs"][0]["pia"]["status"] == "実施済"
