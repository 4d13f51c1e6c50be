"""Workbook layouts: what is written (colours, pull-downs, protection, the header), what
is read back (the same data, normalised input, findings with sheet and cell), and the
LibreOffice round trip."""
from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess

import openpyxl
import pytest

import plugins
from shared import workbook as wbk
from shared.forms import ERROR, Finding
from shared.pluginmanager import build_plugin_manager, form_specs
from tests import factories, form_data

HEADER = {"org_category": "地方公共団体", "prefecture": "東京都", "org_name": "東京都千代田区",
          "org_class": "情報照会者等"}
FORMS = {**{code: build() for code, build in form_data.BUILDERS.items()},
         "03-08": form_data.form_03_08_full()}


@pytest.fixture(scope="module")
def specs():
    return form_specs(build_plugin_manager(plugins.BUILTIN))


@pytest.fixture(scope="module")
def layouts(specs):
    return {code: spec.layout for code, spec in specs.items()}


def write(layouts, code, data=None, findings=()):
    return wbk.write_form(layouts[code], FORMS[code] if data is None else data, HEADER, findings)


def edit(body: bytes, sheet: str, **cells) -> bytes:
    """The workbook as a person leaves it after typing ``cells`` into ``sheet``."""
    wb = openpyxl.load_workbook(io.BytesIO(body))
    for ref, value in cells.items():
        wb[sheet][ref] = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_one(body, layouts) -> wbk.ReadResult:
    [result] = wbk.read_workbook(body, layouts)
    return result


# --- round trip ---------------------------------------------------------------------

@pytest.mark.parametrize("code", list(FORMS))
def test_every_form_reads_back_to_the_data_it_was_written_from(layouts, code):
    result = read_one(write(layouts, code), layouts)
    assert result.code == code
    assert result.findings == []
    assert result.data == FORMS[code]


def test_several_forms_in_one_workbook_are_each_read(layouts):
    body = wbk.write_workbook([wbk.FormPart(layouts[c], FORMS[c], HEADER) for c in ("02-01", "03-07")])
    results = wbk.read_workbook(body, layouts)
    assert [(r.code, r.data) for r in results] == [("02-01", FORMS["02-01"]), ("03-07", FORMS["03-07"])]


def test_a_workbook_is_identified_by_its_sheets_not_by_what_was_asked(layouts):
    assert [r.code for r in wbk.read_workbook(write(layouts, "02-02"), layouts)] == ["02-02"]


# --- what is written ----------------------------------------------------------------

def fill(cell) -> str:
    return (cell.fill.fgColor.rgb or "")[-6:].upper()


def test_cells_are_coloured_by_kind_and_only_input_cells_are_unlocked(layouts):
    ws = openpyxl.load_workbook(io.BytesIO(write(layouts, "02-01")))["様02-01"]
    assert ws.protection.sheet is True
    assert (fill(ws["C4"]), ws["C4"].protection.locked) == ("F8CBAD", True)    # red: automatic
    assert (fill(ws["C9"]), ws["C9"].protection.locked) == ("FFFF99", False)   # yellow: typed
    assert (fill(ws["C10"]), ws["C10"].protection.locked) == ("BDD7EE", False)  # blue: pull-down
    assert (fill(ws["F4"]), ws["F4"].protection.locked) == ("D9D9D9", True)    # reviewers
    assert ws["B4"].protection.locked is True                                # labels


def test_the_header_carries_the_organisation_the_date_hint_and_the_reviewer_block(layouts):
    ws = openpyxl.load_workbook(io.BytesIO(write(layouts, "02-01")))["様02-01"]
    assert ws["A1"].value == "様02-01　責任体制登録（変更）申請書"
    assert [ws[f"C{r}"].value for r in range(4, 9)] == ["131016", "地方公共団体", "東京都",
                                                        "東京都千代田区", "情報照会者等"]
    assert ws["C9"].value == dt.datetime(2026, 11, 26) and ws["C9"].number_format == "yyyy/mm/dd"
    assert "YYYY/MM/DD" in ws["D9"].value
    assert "審査者記入欄" in ws["E3"].value
    assert [ws[f"E{r}"].value for r in range(4, 12)] == list(
        ("申請番号", "一次審査者 機関名", "一次審査者 部署名", "一次審査者 氏名",
         "一次審査結果", "一次審査コメント", "二次審査結果", "二次審査コメント"))
    assert all(ws[f"F{r}"].value is None for r in range(4, 12))


def test_every_pull_down_has_a_data_validation_list(layouts):
    wb = openpyxl.load_workbook(io.BytesIO(write(layouts, "03-07")))
    header = {str(dv.sqref): dv for dv in wb["様03-07"].data_validations.dataValidation}
    assert header["C10"].type == "list" and header["C10"].formula1 == '"登録申請,変更申請"'
    rows = {str(dv.sqref): dv.formula1 for dv in wb["様03-07(1)"].data_validations.dataValidation}
    assert rows == {"D5": '"登録,変更,削除,変更なし"', "E5": '"実施済,1000人未満,その他"'}
    reports = {str(dv.sqref): dv.formula1 for dv in wb["様03-07(1)評価書"].data_validations.dataValidation}
    assert reports == {"D5:D25": '"○"'}


def test_codes_and_phone_numbers_are_text_cells_so_leading_zeros_stay(layouts):
    wb = openpyxl.load_workbook(io.BytesIO(write(layouts, "02-02")))
    ws = wb["様02-02"]
    assert (ws["E22"].value, ws["E22"].number_format) == ("03-1234-5678", "@")
    assert ws["C4"].number_format == "@"
    ws = openpyxl.load_workbook(io.BytesIO(write(layouts, "03-07")))["様03-07(2)"]
    assert (ws["B5"].value, ws["B5"].data_type, ws["B5"].number_format) == ("001", "s", "@")


def test_rows_from_the_system_are_locked_and_blank_rows_left_for_typing(layouts):
    wb = openpyxl.load_workbook(io.BytesIO(write(layouts, "03-07")))
    ws = wb["様03-07(1)"]
    assert (ws["B5"].value, ws["B5"].protection.locked, ws["D5"].protection.locked) == ("九", True, False)
    assert ws.max_row == 5  # (1) has exactly the selected rows
    reports = wb["様03-07(1)評価書"]
    assert reports["A5"].value == 1 and reports["A6"].value is None
    assert reports["B25"].protection.locked is False  # 20 blank rows for more reports


# --- what is read -------------------------------------------------------------------

def test_what_people_type_is_normalised(layouts):
    """Codes, numbers, phone numbers and dates are normalised; names only trimmed."""
    body = edit(write(layouts, "02-02"), "様02-02", C9=dt.datetime(2026, 11, 26),
                C16="　情報政策担当部長　", C17="山田　一郎", E22="０３－１２３４－５６７８",
                F22=" joho@example.lg.jp ")
    body = edit(body, "様02-02緊急連絡先", D5="０９０ー１２３４ー５６７８")
    result = read_one(body, layouts)
    assert result.findings == []
    expected = form_data.form_02_02(contact_chief={"title": "情報政策担当部長", "name": "山田　一郎"})
    assert result.data == expected


def test_legal_text_is_read_exactly_as_written(layouts):
    """事務名, 特定個人情報名 and the titles of ordinances and rules are the law's: not
    normalised (full-width brackets, digits and spaces stay), not even trimmed."""
    affair = "感染症の予防及び感染症の患者に対する医療に関する法律（平成十年法律第百十四号）による　事務 "
    rule = "八王子市事務委任規則（昭和３９年規則第１０号）"
    data = form_data.form_03_08_full()
    data["query_delegations"][0].update(affair=affair, basis={"article": "地方自治法第２５２条の１４",
                                                               "rule_title": rule})
    data["provision_acceptances"][0]["info_name"] = "【例】地方税関係情報（例示・法令ではない）"
    result = read_one(write(layouts, "03-08", data), layouts)
    assert result.data == data
    row = result.data["query_delegations"][0]
    assert (row["affair"], row["basis"]["rule_title"]) == (affair, rule)
    assert row["basis"]["article"] == "地方自治法第２５２条の１４"


def test_a_japanese_era_date_reads_as_text_and_gets_the_western_calendar_message(layouts, specs):
    from services.intake.validation import validate_form
    from tests.plugins.conftest import context

    result = read_one(edit(write(layouts, "02-01"), "様02-01", C9="令和8年11月26日"), layouts)
    assert result.data["application_date"] == "令和8年11月26日"
    pm = build_plugin_manager(plugins.BUILTIN)
    found = result.place(validate_form(pm, "02-01", result.data, context()))
    assert [f.rule for f in found] == ["02-01.application_date.era"]
    assert found[0].message.startswith("「様02-01」シート C9: ")
    assert "西暦" in found[0].message


def test_a_code_typed_as_a_number_is_read_as_its_digits(layouts):
    result = read_one(edit(write(layouts, "03-09"), "様03-09独自利用事務", B5=12), layouts)
    assert result.data["independent_affairs"][0]["case_no"] == "12"


def test_a_pull_down_value_edited_by_hand_is_checked_against_the_list(layouts):
    result = read_one(edit(write(layouts, "03-07"), "様03-07(1)", E5="実施済み"), layouts)
    assert [(f.rule, f.severity) for f in result.findings] == [("workbook.choice_not_in_list", ERROR)]
    assert result.findings[0].message.startswith("「様03-07(1)」シート E5: ")
    assert "実施済 / 1000人未満 / その他" in result.findings[0].message
    assert result.data["query_affairs"][0]["pia"]["status"] == "実施済み"


def test_a_hand_typed_article_outside_the_pull_down_is_allowed_for_the_validators(layouts):
    result = read_one(edit(write(layouts, "03-08"), "様03-08(1)", E5="地方自治法第252条の2の2"), layouts)
    assert result.findings == []
    assert result.data["query_delegations"][0]["basis"]["article"] == "地方自治法第252条の2の2"


def test_a_check_box_with_something_else_than_a_mark(layouts):
    result = read_one(edit(write(layouts, "03-06"), "様03-06", C24="たぶん"), layouts)
    assert [f.rule for f in result.findings] == ["workbook.value"]
    assert "「様03-06」シート C24" in result.findings[0].message


def test_reviewer_cells_filled_by_the_applicant(layouts):
    result = read_one(edit(write(layouts, "02-01"), "様02-01", F8="承認"), layouts)
    assert [(f.rule, f.severity) for f in result.findings] == [("02-01.reviewer_filled", ERROR)]
    assert result.findings[0].message.startswith("「様02-01」シート F8: 審査者記入欄（一次審査結果）")


def test_a_formula_is_refused_where_a_value_is_expected(layouts):
    result = read_one(edit(write(layouts, "02-01"), "様02-01", C16='=CONCAT("部","長")'), layouts)
    assert [f.rule for f in result.findings] == ["workbook.formula"]
    assert "「様02-01」シート C16" in result.findings[0].message
    assert result.data["system_chief"]["title"] == ""


def test_blank_rows_between_rows_are_skipped_and_locations_follow_the_sheet(layouts):
    body = edit(write(layouts, "03-09"), "様03-09独自利用事務", B8="0002", C8="独自事務B",
                D8="PPC-2", E8="B条例")
    result = read_one(body, layouts)
    assert [r["case_no"] for r in result.data["independent_affairs"]] == ["0001", "0002"]
    assert result.locations["independent_affairs[1].affair"] == "「様03-09独自利用事務」シート C8"


def test_a_report_naming_a_row_that_does_not_exist(layouts):
    body = edit(write(layouts, "03-07"), "様03-07(1)評価書", A6=7, B6="99", C6="評価書X", D6="○")
    result = read_one(body, layouts)
    assert [f.rule for f in result.findings] == ["workbook.unknown_parent_row"]
    assert "「様03-07(1)評価書」シート A6" in result.findings[0].message


def test_a_sheet_missing_or_a_changed_header_row(layouts):
    wb = openpyxl.load_workbook(io.BytesIO(write(layouts, "02-02")))
    del wb["様02-02緊急連絡先"]
    wb["様02-02"]["C21"] = "名前"
    out = io.BytesIO()
    wb.save(out)
    result = read_one(out.getvalue(), layouts)
    assert sorted(f.rule for f in result.findings) == ["workbook.layout_mismatch", "workbook.sheet_missing"]


def test_validator_findings_are_placed_at_their_cells(layouts, specs):
    from services.intake.validation import validate_form
    from tests.plugins.conftest import context

    data = factories.form_02_02(normal_contacts=[{"priority": 1, "department": "情報政策課",
                                                  "name": "", "phone": "03-1234",
                                                  "email": "joho@example.lg.jp"}])
    result = read_one(write(layouts, "02-02", data), layouts)
    found = result.place(validate_form(build_plugin_manager(plugins.BUILTIN), "02-02",
                                       result.data, context()))
    assert [(f.rule, f.location) for f in found] == [
        ("02-02.normal_contacts.phone", "normal_contacts[0].phone")]
    assert found[0].message.startswith("「様02-02」シート E22: 通常連絡先（1 行目）の電話番号")


# --- annotated workbooks ------------------------------------------------------------

def test_findings_are_highlighted_with_a_comment_on_their_cell(layouts):
    findings = [Finding("02-02.normal_contacts.phone", ERROR, "normal_contacts[0].phone", "電話番号の形式が正しくありません。"),
                Finding("02-02.schema", ERROR, "emergency_contacts.0.email", "メールアドレスの形式が正しくありません。"),
                Finding("02-02.contact_chief_not_system_chief", "warning", "02-02.contact_chief", "責任者が異なります。")]
    wb = openpyxl.load_workbook(io.BytesIO(write(layouts, "02-02", findings=findings)))
    ws, em = wb["様02-02"], wb["様02-02緊急連絡先"]
    assert "【エラー】電話番号の形式が正しくありません。" in ws["E22"].comment.text
    assert fill(ws["E22"]) == "FF9900" and fill(ws["F22"]) == "FFFF99"
    assert "メールアドレス" in em["E5"].comment.text
    assert "【警告】責任者が異なります。" in ws["C16"].comment.text
    assert "指摘事項 3 件" in ws["G1"].value


def test_an_annotated_workbook_still_reads_back_to_its_data(layouts):
    findings = [Finding("03-07.pia.reason_missing", ERROR, "query_affairs[0].pia.reason", "理由を記入してください。")]
    assert read_one(write(layouts, "03-07", findings=findings), layouts).data == FORMS["03-07"]


# --- LibreOffice --------------------------------------------------------------------

def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("soffice is missing on CI (.ci/run installs libreoffice-calc-nogui)")
        pytest.skip("soffice not installed (apt-get install libreoffice-calc-nogui)")
    return found


def test_workbooks_saved_by_libreoffice_read_back_to_the_same_data(layouts, tmp_path):
    exe = soffice()
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for code in FORMS:
        (src / f"{code}.xlsx").write_bytes(write(layouts, code))
    # A form filled in by a person: typed values, a date cell, full-width digits.
    blank = dict(FORMS["02-02"], application_date="", normal_contacts=[], emergency_contacts=[])
    filled = edit(write(layouts, "02-02", blank), "様02-02", C9=dt.datetime(2026, 11, 26),
                  B22=1, C22="情報政策課", E22="０３－１２３４－５６７８", F22="joho@example.lg.jp")
    filled = edit(filled, "様02-02緊急連絡先", B5=1, C5="山田 一郎", D5="090-1234-5678",
                  E5="yamada-kinkyu@example.jp")
    (src / "filled-02-02.xlsx").write_bytes(filled)
    subprocess.run([exe, f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), *sorted(map(str, src.iterdir()))],
                   check=True, capture_output=True, timeout=240)
    for code, data in FORMS.items():
        result = read_one((out / f"{code}.xlsx").read_bytes(), layouts)
        assert (result.code, result.findings, result.data) == (code, [], data)
    result = read_one((out / "filled-02-02.xlsx").read_bytes(), layouts)
    assert (result.findings, result.data) == ([], FORMS["02-02"])


def test_a_sheet_longer_than_the_limit_is_cut_with_a_finding(layouts, monkeypatch):
    monkeypatch.setattr(wbk, "MAX_ROWS", 20)   # the header sheet has 16 rows
    result = read_one(write(layouts, "03-09"), layouts)
    assert [f.rule for f in result.findings] == ["workbook.too_many_rows"]
    assert "「様03-09独自利用事務」シート" in result.findings[0].message
