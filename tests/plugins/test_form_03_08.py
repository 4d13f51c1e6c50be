"""様03-08: delegation bases, 委任元機関, their confirmation, multi-level chains and the
selection."""
from __future__ import annotations

import pytest

from tests import form_data
from tests.plugins.conftest import rules

CHAIN_A_B = {"from": "130001", "to": "132012", "article": "地方自治法第252条の17の2",
             "rule_title": "東京都の事務処理の特例に関する条例", "attachment_id": "A001"}
CHAIN_B_C = {"from": "132012", "to": "131016", "article": "地方自治法第252条の14",
             "rule_title": "事務の委託に関する規約", "attachment_id": "A001"}


@pytest.fixture
def check(check):
    """The form checked in an application that has the attachment its bases name
    (form_data.EVIDENCE) unless the test says which attachments there are."""
    def run(code, data, **kw):
        kw.setdefault("attachments", [form_data.EVIDENCE])
        return check(code, data, **kw)
    return run


def one_query(**changes):
    """A 03-08 with one (1) row; a ``basis`` given without its 添付資料ID names the
    attached form_data.EVIDENCE."""
    if "basis" in changes:
        changes["basis"] = {"attachment_id": form_data.EVIDENCE, **changes["basis"]}
    return form_data.form_03_08(query_delegations=[form_data.query_delegation(**changes)])


def bare_query(**changes):
    return form_data.form_03_08(query_delegations=[form_data.query_delegation(**changes)])


def test_a_full_form_is_valid(check):
    assert check("03-08", form_data.form_03_08_full()) == []


@pytest.mark.parametrize("basis, location", [
    ({"article": "児童手当事務取扱要綱", "rule_title": "児童手当事務の委託に関する規約"}, "basis.article"),
    ({"article": "児童手当事務取扱要綱第3条", "rule_title": "児童手当事務の委託に関する規約"}, "basis.article"),
    ({"article": "総務省通知", "rule_title": "児童手当事務の委託に関する規約"}, "basis.article"),
    ({"article": "地方自治法第252条の14", "rule_title": "厚生労働省通知（令和6年）"}, "basis.rule_title")])
def test_a_non_statutory_basis_is_refused(check, basis, location):
    found = check("03-08", one_query(basis=basis))
    assert rules(found) == [("03-08.basis.non_statutory", "error", f"query_delegations[0].{location}")]
    assert "要綱・通知" in found[0].message


@pytest.mark.parametrize("rule_title", [
    "八王子市長の権限に属する個人番号の通知に関する事務の委任に関する規則",   # 通知 inside a 規則
    "東京都の事務処理の特例に関する条例",
    "児童手当事務の委託に関する規約",
    "八王子市事務委任規則（昭和３９年規則第１０号）",                          # its number after it
    "「八王子市事務委任規則」",
    "八王子市事務委任規則第2条第1項",
    "八王子市児童手当法施行細則（昭和47年規則第30号）",                      # a 規則 by its number
    "要綱の廃止に伴う事務の委任に関する規則"])                                   # 要綱 inside a 規則
def test_a_rule_is_judged_by_its_kind_not_by_a_word_in_its_title(check, rule_title):
    assert check("03-08", one_query(basis={"article": "地方自治法第180条の2",
                                           "rule_title": rule_title})) == []


@pytest.mark.parametrize("rule_title, kind", [
    ("八王子市事務委任要綱", "要綱"),
    ("児童手当事務取扱要領", "要領"),
    ("個人番号の利用に関する規則の運用について（通知）", ""),   # a 通知 about a rule
    ("事務委任に関する通知", "通知"),
    ("八王子市教育委員会事務委任規程", "規程"),
    ("事務の委任について", ""),
    ("八王子市事務委任要綱（平成20年告示第5号）", "要綱")])
def test_a_rule_of_another_kind_is_refused(check, rule_title, kind):
    found = check("03-08", one_query(basis={"article": "地方自治法第180条の2",
                                            "rule_title": rule_title}))
    assert rules(found) == [("03-08.basis.non_statutory", "error",
                             "query_delegations[0].basis.rule_title")]
    assert f"「{rule_title}」" in found[0].message
    assert (f"{kind}です" if kind else "条例・規則・規約の名称ではありません") in found[0].message


def test_a_chain_link_and_an_acceptance_are_judged_alike(check):
    data = form_data.form_03_08_full()
    data["query_delegations"][1]["chain"][1]["rule_title"] = "個人番号の通知に関する事務の委任に関する規則"
    data["provision_acceptances"][0]["basis"]["rule_title"] = "個人番号カード交付通知事務の委託に関する規約"
    assert check("03-08", data) == []
    data["query_delegations"][1]["chain"][1]["rule_title"] = "事務委任要綱"
    data["provision_acceptances"][0]["basis"]["rule_title"] = "事務委託要領"
    assert rules(check("03-08", data)) == [
        ("03-08.basis.non_statutory", "error", "query_delegations[1].chain[1].rule_title"),
        ("03-08.basis.non_statutory", "error", "provision_acceptances[0].basis.rule_title")]


def test_an_article_in_full_width_digits_is_the_listed_one(check):
    found = check("03-08", one_query(basis={"article": "地方自治法第２５２条の１４",
                                            "rule_title": "児童手当事務の委託に関する規約"}))
    assert found == []


def test_missing_article_and_rule(check):
    found = check("03-08", one_query(basis={"article": "", "rule_title": ""}))
    assert rules(found) == [("03-08.basis.article_missing", "error", "query_delegations[0].basis.article"),
                            ("03-08.basis.rule_missing", "error", "query_delegations[0].basis.rule_title")]


def test_another_statutory_article_is_a_warning(check):
    found = check("03-08", one_query(basis={"article": "地方教育行政の組織及び運営に関する法律第25条",
                                            "rule_title": "教育長への事務委任規則"}))
    assert rules(found) == [("03-08.basis.article_unlisted", "warning", "query_delegations[0].basis.article")]


def test_delegators_missing(check):
    assert rules(check("03-08", one_query(delegators=[]))) == [
        ("03-08.delegators.missing", "error", "query_delegations[0].delegators")]


def test_the_applicant_as_its_own_delegator(check):
    assert rules(check("03-08", one_query(delegators=["131016"]))) == [
        ("03-08.delegators.self", "error", "query_delegations[0].delegators")]


def test_confirmation_by_the_delegator_unchecked(check):
    found = check("03-08", one_query(delegator_confirmed=False))
    assert rules(found) == [("03-08.delegator_confirmed.unchecked", "error",
                             "query_delegations[0].delegator_confirmed")]


def test_a_whole_two_level_chain_is_valid(check):
    assert check("03-08", one_query(delegators=["130001", "132012"],
                                    chain=[CHAIN_A_B, CHAIN_B_C])) == []


def test_a_chain_declared_only_in_part(check):
    """県A → 市B → C: C declared only B → C."""
    found = check("03-08", one_query(delegators=["130001", "132012"], chain=[CHAIN_B_C]))
    assert rules(found) == [
        ("03-08.chain.not_from_first_delegator", "error", "query_delegations[0].chain[0].from"),
        ("03-08.chain.partial", "error", "query_delegations[0].chain")]
    assert "130001" in found[1].message


def test_a_chain_with_a_gap(check):
    far = dict(CHAIN_B_C, **{"from": "132039"})
    found = check("03-08", one_query(delegators=["130001", "132012", "132039"],
                                     chain=[CHAIN_A_B, far]))
    assert rules(found) == [("03-08.chain.broken", "error", "query_delegations[0].chain[1].from")]


def test_a_chain_that_does_not_reach_the_applicant(check):
    found = check("03-08", one_query(delegators=["130001"], chain=[CHAIN_A_B]))
    assert rules(found) == [
        ("03-08.chain.not_to_applicant", "error", "query_delegations[0].chain[0].to"),
        ("03-08.chain.undeclared_delegator", "error", "query_delegations[0].delegators")]


def test_a_non_statutory_link_in_the_chain(check):
    bad = dict(CHAIN_A_B, rule_title="事務処理要綱")
    found = check("03-08", one_query(delegators=["130001", "132012"], chain=[bad, CHAIN_B_C]))
    assert rules(found) == [("03-08.basis.non_statutory", "error",
                             "query_delegations[0].chain[0].rule_title")]


def test_provision_delegatee_and_acceptance_delegator_missing(check):
    data = form_data.form_03_08_full()
    data["provision_delegations"][0]["delegatee"] = ""
    data["provision_acceptances"][0]["delegator"] = ""
    assert rules(check("03-08", data)) == [
        ("03-08.delegatee.missing", "error", "provision_delegations[0].delegatee"),
        ("03-08.delegator.missing", "error", "provision_acceptances[0].delegator")]


def test_an_acceptance_by_notice_is_refused(check):
    data = form_data.form_03_08_full()
    data["provision_acceptances"][0]["basis"]["article"] = "総務省通知"
    assert rules(check("03-08", data)) == [
        ("03-08.basis.non_statutory", "error", "provision_acceptances[0].basis.article")]


SELECTION = {
    "query_affairs": [{"item_no": "九", "choice": "受任事務", "delegators": ["132012"]},
                      {"item_no": "十", "choice": "受任事務", "delegators": ["130001", "132012"]}],
    "provided_info": [{"info_no": "002", "choice": "委任した", "counterpart": "132012"},
                      {"info_no": "003", "choice": "受任により情報提供を行う", "counterpart": "132012"}]}


def test_rows_that_follow_the_selection(check):
    assert check("03-08", form_data.form_03_08_full(), selection=SELECTION) == []


def test_rows_not_in_the_selection(check):
    selection = {"query_affairs": [{"item_no": "九", "choice": "照会する", "delegators": []}],
                 "provided_info": [{"info_no": "002", "choice": "提供する"}]}
    found = check("03-08", form_data.form_03_08_full(), selection=selection)
    assert rules(found) == [
        ("03-08.query_delegations.not_selected", "error", "query_delegations[0].item_no"),
        ("03-08.query_delegations.not_selected", "error", "query_delegations[1].item_no"),
        ("03-08.provision_delegations.not_selected", "error", "provision_delegations[0].info_no"),
        ("03-08.provision_acceptances.not_selected", "error", "provision_acceptances[0].info_no")]


def test_counterparts_that_differ_from_the_selection(check):
    data = form_data.form_03_08_full()
    data["query_delegations"][0]["delegators"] = ["132039"]
    data["provision_delegations"][0]["delegatee"] = "132039"
    found = check("03-08", data, selection=SELECTION)
    assert rules(found) == [
        ("03-08.query_delegations.delegators_differ", "error", "query_delegations[0].delegators"),
        ("03-08.provision_delegations.counterpart_differs", "error", "provision_delegations[0].delegatee")]


def test_names_must_be_the_catalog_s_text(check):
    selection = {
        "query_affairs": [dict(r, affair=form_data.beppyo_affair(r["item_no"]))
                          for r in SELECTION["query_affairs"]],
        "provided_info": [dict(SELECTION["provided_info"][0], info_name="地方税関係情報"),
                          dict(SELECTION["provided_info"][1], info_name="児童手当関係情報")]}
    assert check("03-08", form_data.form_03_08_full(), selection=selection) == []
    data = form_data.form_03_08_full()
    data["query_delegations"][1]["affair"] = "生活保護法（昭和二十五年法律第百四十四号）による保護の事務"
    data["provision_delegations"][0]["info_name"] = "地方税関係情報 "
    data["provision_acceptances"][0]["info_name"] = "児童手当関係情報(例)"
    found = check("03-08", data, selection=selection)
    assert rules(found) == [
        ("03-08.query_delegations.affair_mismatch", "error", "query_delegations[1].affair"),
        ("03-08.provision_delegations.info_name_mismatch", "error", "provision_delegations[0].info_name"),
        ("03-08.provision_acceptances.info_name_mismatch", "error", "provision_acceptances[0].info_name")]
    assert f"「{form_data.beppyo_affair('十')}」" in found[0].message


def test_a_procedure_the_catalog_does_not_list_for_the_item_is_a_warning(check):
    data = form_data.form_03_08(query_delegations=[form_data.query_delegation(procedure="独自の手続")])
    selection = {"query_affairs": [{"item_no": "九", "choice": "受任事務", "delegators": ["132012"],
                                    "procedures": ["認定請求", "額改定請求"]}],
                 "provided_info": []}
    found = [f for f in check("03-08", data, selection=selection)
             if f.rule == "03-08.query_delegations.procedure_unlisted"]
    assert [(f.severity, f.location) for f in found] == [("warning", "query_delegations[0].procedure")]
    assert "認定請求、額改定請求" in found[0].message
    data["query_delegations"][0]["procedure"] = "額改定請求"
    assert not [f for f in check("03-08", data, selection=selection)
                if f.rule.endswith("procedure_unlisted")]


# --- required evidence: the 条例・規則・規約 of every basis attached (issue 13) ---------

def test_every_basis_of_a_full_form_needs_its_rule_attached(check):
    data = form_data.form_03_08_full()
    assert rules(check("03-08", data, attachments=[])) == [
        ("03-08.basis.attachment_unknown", "error", f"{where}.attachment_id") for where in (
            "query_delegations[0].basis", "query_delegations[1].basis",
            "query_delegations[1].chain[0]", "query_delegations[1].chain[1]",
            "provision_acceptances[0].basis")]


def test_a_basis_without_its_attachment_id_is_an_error_on_that_cell(check):
    basis = {"article": "地方自治法第252条の14", "rule_title": "児童手当事務の委託に関する規約"}
    found = check("03-08", bare_query(basis=basis))
    assert rules(found) == [("03-08.basis.rule_not_attached", "error",
                             "query_delegations[0].basis.attachment_id")]
    assert "「児童手当事務の委託に関する規約」の写し（PDF）を添付資料として登録" in found[0].message


def test_each_level_of_a_chain_needs_its_rule_attached(check):
    link = {k: v for k, v in CHAIN_A_B.items() if k != "attachment_id"}
    found = check("03-08", one_query(delegators=["130001", "132012"],
                                     chain=[link, dict(CHAIN_B_C, attachment_id="A002")]),
                  attachments=["A001"])
    assert rules(found) == [
        ("03-08.basis.rule_not_attached", "error", "query_delegations[0].chain[0].attachment_id"),
        ("03-08.basis.attachment_unknown", "error", "query_delegations[0].chain[1].attachment_id")]
    assert "添付資料「A002」はこの申請に添付されていません" in found[1].message


def test_rows_not_filed_anew_need_no_attachment(check):
    basis = {"article": "地方自治法第252条の14", "rule_title": "児童手当事務の委託に関する規約",
             "attachment_id": "A009"}
    for row_type in ("変更なし", "削除"):
        found = check("03-08", bare_query(basis=basis, request_type=row_type), attachments=[])
        assert not [f for f in found if f.rule.startswith("03-08.basis.")], row_type


def test_a_refused_or_missing_rule_is_not_asked_for_its_attachment_too(check):
    found = check("03-08", bare_query(basis={"article": "地方自治法第252条の14", "rule_title": ""}),
                  attachments=[])
    assert rules(found) == [("03-08.basis.rule_missing", "error", "query_delegations[0].basis.rule_title")]
