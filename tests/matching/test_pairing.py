"""情報提供 delegation: the 委任元's (2) and the 委任先's (3) for the same 特定個人情報."""
from __future__ import annotations

from tests.matching.conftest import acceptance, delegation

A, B, C = "131016", "131024", "131032"


def test_delegation_waits_for_its_counterpart_then_both_sides_are_matched(matching):
    matching.submit(1, A, delegations=[delegation("10", B)])
    record = matching.one(1)
    assert record["status"] == "counterpart_missing"
    assert record["counterpart"] == B and B in record["detail"]
    assert matching.reported().keys() == {1}

    matching.submit(2, B, acceptances=[acceptance("10", A)])
    assert matching.one(1)["status"] == "matched"
    assert matching.one(2)["status"] == "matched"
    # Both applications get fresh results: the earlier one changed too.
    reported = matching.reported()
    assert reported.keys() == {1, 2}
    assert reported[1]["records"][0]["status"] == "matched"


def test_acceptance_filed_first_names_the_delegator_that_has_not_filed(matching):
    matching.submit(2, B, acceptances=[acceptance("10", A)])
    record = matching.one(2)
    assert record["status"] == "counterpart_missing"
    assert record["findings"][0]["org"] == A
    assert "委任元 131016" in record["detail"]


def test_a_different_name_for_the_same_information_is_mismatched_on_item(matching):
    matching.submit(1, A, delegations=[delegation("10", B, name="住民票関係情報")])
    matching.submit(2, B, acceptances=[acceptance("10", A, name="地方税関係情報")])
    for app_id in (1, 2):
        record = matching.one(app_id)
        assert (record["status"], record["field"]) == ("mismatched", "item")
    assert "住民票関係情報" in matching.one(2)["detail"]


def test_a_different_basis_is_mismatched_on_basis(matching):
    matching.submit(1, A, delegations=[delegation(
        "10", B, basis=("地方自治法第252条の17の2", "事務処理の特例に関する条例"))])
    matching.submit(2, B, acceptances=[acceptance("10", A, article="地方自治法第252条の14")])
    for app_id in (1, 2):
        record = matching.one(app_id)
        assert (record["status"], record["field"]) == ("mismatched", "basis")


def test_another_party_for_the_same_information_is_mismatched_on_parties(matching):
    matching.submit(1, A, delegations=[delegation("10", B)])
    matching.submit(2, B, acceptances=[acceptance("10", C)])
    mine = matching.one(1)
    assert (mine["status"], mine["field"]) == ("mismatched", "parties")
    assert C in mine["detail"]
    theirs = matching.one(2)
    assert (theirs["status"], theirs["field"]) == ("mismatched", "parties")
    assert A in theirs["detail"]


def test_different_information_between_the_same_two_organisations_is_mismatched_on_item(matching):
    matching.submit(1, A, delegations=[delegation("10", B)])
    matching.submit(2, B, acceptances=[acceptance("11", A)])
    record = matching.one(1)
    assert (record["status"], record["field"]) == ("mismatched", "item")
    assert "11" in record["detail"]


def test_resubmission_without_the_row_leaves_the_other_side_missing_again(matching):
    matching.submit(1, A, delegations=[delegation("10", B)])
    matching.submit(2, B, acceptances=[acceptance("10", A), acceptance("20", C)])
    assert matching.one(1)["status"] == "matched"
    matching.reported()

    matching.submit(2, B, acceptances=[acceptance("20", C)])   # round 2 drops 10
    assert matching.one(1)["status"] == "counterpart_missing"
    assert matching.reported().keys() == {1, 2}


def test_a_change_to_one_pair_reports_only_the_applications_it_touches(matching):
    matching.submit(1, A, delegations=[delegation("10", B)])
    matching.submit(2, B, acceptances=[acceptance("10", A)])
    matching.submit(3, C, delegations=[delegation("30", "131041")])
    matching.reported()
    matching.submit(2, B, acceptances=[acceptance("10", A, name="別の名称")])
    assert matching.reported().keys() == {1, 2}


def test_withdrawal_removes_the_records_and_matches_the_counterpart_again(matching):
    matching.submit(1, A, delegations=[delegation("10", B)])
    matching.submit(2, B, acceptances=[acceptance("10", A)])
    matching.reported()

    matching.withdraw(2, B)
    assert matching.records(2) == []
    assert matching.one(1)["status"] == "counterpart_missing"
    reported = matching.reported()
    assert reported.keys() == {1, 2}
    assert reported[2]["records"] == []
    # A late copy of the withdrawn application's submission changes nothing.
    matching.submit(2, B, acceptances=[acceptance("10", A)], round=1)
    assert matching.records(2) == []
    assert matching.one(1)["status"] == "counterpart_missing"


def test_an_older_round_arriving_late_is_ignored(matching):
    matching.submit(1, A, delegations=[delegation("10", B)], round=2)
    matching.submit(1, A, delegations=[delegation("99", B)], round=1)
    assert matching.one(1)["item"] == "10"


def test_the_same_message_delivered_twice_is_processed_once(matching):
    from tests.matching.conftest import envelope

    env = envelope("delegations.submitted", {
        "application_id": 1, "round": 1, "org_id": A,
        "provision_delegations": [delegation("10", B)]})
    task = matching.task("delegations.submitted")
    assert task(env) == "done"
    assert task(env) == "duplicate"
    assert len(matching.records(1)) == 1


def test_a_union_receiving_the_same_information_from_several_members_pairs_each(matching):
    union, m1, m2, m3 = "U131000001", A, B, C
    matching.submit(1, m1, delegations=[delegation("10", union)])
    matching.submit(2, m2, delegations=[delegation("10", union)])
    matching.submit(9, union, acceptances=[acceptance("10", m1), acceptance("10", m2),
                                           acceptance("10", m3)])
    by_delegator = {r["counterpart"]: r for r in matching.records(9)}
    assert by_delegator[m1]["status"] == "matched"
    assert by_delegator[m2]["status"] == "matched"
    # m3 has not filed: that is all there is to say, on that row only.
    assert by_delegator[m3]["status"] == "counterpart_missing"
    assert [f["code"] for f in by_delegator[m3]["findings"]] == ["counterpart_missing"]
    assert matching.one(1)["status"] == matching.one(2)["status"] == "matched"


def test_a_delegation_the_union_has_not_acknowledged_leaves_its_other_rows_alone(matching):
    union = "U131000001"
    matching.submit(1, A, delegations=[delegation("10", union)])
    matching.submit(2, B, delegations=[delegation("10", union)])
    matching.submit(9, union, acceptances=[acceptance("10", A)])
    assert matching.one(9)["status"] == "matched"
    assert matching.one(1)["status"] == "matched"
    assert matching.one(2)["status"] == "counterpart_missing"
