"""Chains across organisations (県A → 市B → 一部事務組合C), cycles, self-delegation and
the statutory-basis rule."""
from __future__ import annotations

import pytest

from services.matching.graph import Edge, analyse, cycles
from services.matching.rules import LOCAL_AUTONOMY_ARTICLES
from tests.matching.conftest import acceptance, delegation, query

A, B, C = "130001", "131016", "U131000001"          # 県A, 市B, 一部事務組合C
A_TO_B = ("地方自治法第252条の17の2", "事務処理の特例に関する条例")
B_TO_C = ("地方自治法第252条の14", "事務の委託に関する規約")


def codes(record):
    return {f["code"] for f in record["findings"]}


def test_three_levels_declared_in_full_by_the_linking_organisation_are_accepted(matching):
    matching.submit(2, B, queries=[query("7", [A], *A_TO_B)])
    matching.submit(3, C, queries=[query("7", [A, B], *B_TO_C,
                                         chain=[(A, B, *A_TO_B), (B, C, *B_TO_C)])])
    record = matching.one(3)
    assert record["status"] == "awaiting_confirmation"
    assert record["not_confirmed"] == [A, B]
    assert not codes(record) & {"undeclared_chain_basis", "undeclared_delegator",
                                "chain_basis_differs", "broken_chain"}


def test_the_linking_organisation_is_told_every_basis_on_the_chain_it_left_out(matching):
    matching.submit(3, C, queries=[query("7", [B], *B_TO_C)])
    assert matching.one(3)["status"] == "awaiting_confirmation"
    matching.reported()

    # B's own filing shows the step A → B: C, which actually links, did not declare it.
    matching.submit(2, B, queries=[query("7", [A], *A_TO_B)])
    record = matching.one(3)
    assert record["status"] == "chain_incomplete"
    missing = [f for f in record["findings"] if f["code"] == "undeclared_chain_basis"]
    assert [(f["from"], f["to"], f["article"]) for f in missing] == [(A, B, A_TO_B[0])]
    assert "130001→131016" in missing[0]["message"]
    assert any(f["code"] == "undeclared_delegator" and f["org"] == A
               for f in record["findings"])
    assert matching.reported().keys() == {2, 3}
    # B passes the affair on, so it is not asked for a chain.
    assert matching.one(2)["status"] == "awaiting_confirmation"

    matching.submit(3, C, queries=[query("7", [A, B], *B_TO_C,
                                         chain=[(A, B, *A_TO_B), (B, C, *B_TO_C)])])
    assert matching.one(3)["status"] == "awaiting_confirmation"


def test_a_query_row_whose_chain_leaves_out_a_named_delegator_is_incomplete(matching):
    matching.submit(3, C, queries=[query("7", [A, B], *B_TO_C, chain=[(B, C, *B_TO_C)])])
    record = matching.one(3)
    assert record["status"] == "chain_incomplete"
    assert any(f["code"] == "undeclared_chain_basis" and f["org"] == A
               for f in record["findings"])


def test_a_chain_step_declared_with_another_basis_than_its_own_filer_is_mismatched(matching):
    matching.submit(2, B, queries=[query("7", [A], *A_TO_B)])
    matching.submit(3, C, queries=[query("7", [A, B], *B_TO_C, chain=[
        (A, B, "地方自治法第180条の2", "事務委任規則"), (B, C, *B_TO_C)])])
    record = matching.one(3)
    assert (record["status"], record["field"]) == ("mismatched", "basis")
    assert any(f["code"] == "chain_basis_differs" for f in record["findings"])


def test_provision_chain_needs_every_basis_from_the_final_delegatee(matching):
    matching.submit(1, A, delegations=[delegation("20", B)])
    matching.submit(2, B, acceptances=[acceptance("20", A, *A_TO_B)],
                    delegations=[delegation("20", C)])
    matching.submit(3, C, acceptances=[acceptance("20", B, *B_TO_C)])
    assert matching.one(1)["status"] == "matched"
    assert {r["status"] for r in matching.records(2)} == {"matched"}
    record = matching.one(3)
    assert record["status"] == "chain_incomplete"
    (missing,) = [f for f in record["findings"] if f["code"] == "undeclared_chain_basis"]
    assert (missing["from"], missing["to"], missing["article"]) == (A, B, A_TO_B[0])

    matching.submit(3, C, acceptances=[acceptance("20", B, *B_TO_C, chain=[(A, B, *A_TO_B)])])
    assert matching.one(3)["status"] == "matched"


def test_a_cycle_is_an_error_for_every_organisation_on_it_until_it_is_broken(matching):
    matching.submit(1, B, queries=[query("8", [A])])
    matching.submit(2, C, queries=[query("8", [B])])
    matching.submit(3, A, queries=[query("8", [C])])
    for app_id in (1, 2, 3):
        record = matching.one(app_id)
        assert record["status"] == "error" and "cycle" in codes(record), record
    assert "循環" in matching.one(1)["detail"]

    matching.withdraw(3, A)
    for app_id in (1, 2):
        assert "cycle" not in codes(matching.one(app_id))
    assert matching.one(2)["status"] == "chain_incomplete"    # C links: A → B undeclared


@pytest.mark.parametrize("filing", [
    {"queries": [query("9", [C])]},
    {"delegations": [delegation("9", C)]},
    {"acceptances": [acceptance("9", C)]},
    {"queries": [query("9", [B], chain=[(B, B, *B_TO_C), (B, C, *B_TO_C)])]},
])
def test_self_delegation_is_an_error(matching, filing):
    matching.submit(1, C, **filing)
    record = matching.one(1)
    assert record["status"] == "error"
    assert "self_delegation" in codes(record)


@pytest.mark.parametrize("article,rule", [
    ("地方自治法第180条の2", "○○市事務委任要綱"),
    ("○○市事務委任要綱", ""),
    ("総務省通知", "事務連絡"),
    ("地方自治法第252条の14", "○○通知"),
    ("申し合わせ", ""),
])
def test_a_non_statutory_basis_is_refused(matching, article, rule):
    matching.submit(1, C, queries=[query("9", [B], article, rule)],
                    acceptances=[acceptance("10", B, article, rule)])
    for record in matching.records(1):
        assert record["status"] == "error"
        assert "non_statutory_basis" in codes(record)
        assert "情報提供ネットワークシステム" in record["detail"] or "法令" in record["detail"]


@pytest.mark.parametrize("rule", ["○○市長の権限に属する個人番号の通知に関する事務の委任に関する規則",
                                  "要綱の廃止に伴う事務の委任に関する規則"])
def test_a_rule_with_通知_or_要綱_inside_its_title_is_a_rule(matching, rule):
    matching.submit(1, C, queries=[query("9", [B], "地方自治法第180条の2", rule)],
                    acceptances=[acceptance("10", B, "地方自治法第180条の2", rule)])
    for record in matching.records(1):
        assert "non_statutory_basis" not in codes(record)


def test_a_missing_basis_is_refused(matching):
    matching.submit(1, C, queries=[query("9", [B], "", "")])
    assert "missing_basis" in codes(matching.one(1))


@pytest.mark.parametrize("article", [*LOCAL_AUTONOMY_ARTICLES, "○○県事務処理の特例に関する条例",
                                     "地方税法第20条の4"])
def test_statutory_bases_are_accepted(matching, article):
    matching.submit(1, C, acceptances=[acceptance("10", B, article, "規約")])
    matching.submit(2, B, delegations=[delegation("10", C)])
    assert matching.one(1)["status"] == "matched"


def test_cycles_finds_each_loop_once():
    edges = [Edge("A", "B", "", "", "B"), Edge("B", "C", "", "", "C"), Edge("C", "A", "", "", "A"),
             Edge("C", "D", "", "", "D"), Edge("X", "X", "", "", "X")]
    assert cycles(edges) == [["A", "B", "C"]]


def test_analyse_asks_only_the_organisation_that_passes_the_item_on_to_nobody():
    edges = [Edge("A", "B", "a1", "", "B"), Edge("B", "C", "b1", "", "C"),
             Edge("A", "D", "a2", "", "D")]
    found = analyse(edges, {"B": {"A"}, "C": {"B"}, "D": {"A"}}, family="query")
    assert "B" not in found and "D" not in found
    assert {(f["code"], f.get("from"), f.get("org")) for f in found["C"]} == {
        ("undeclared_chain_basis", "A", None), ("undeclared_delegator", None, "A")}
