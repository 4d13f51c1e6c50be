"""Incremental matching: a change re-matches only what it touches, and what it leaves
is exactly what matching everything from scratch would give."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from services.matching import matcher
from services.matching.models import Confirmation
from tests.matching.conftest import acceptance, delegation, query

STATUTORY = [("地方自治法第252条の14", "規約"), ("地方自治法第284条", "組合規約"),
             ("地方自治法第252条の17の2", "特例条例"), ("地方自治法第180条の2", "委任規則")]


def _random_rows(rnd: random.Random, org: str, orgs: list[str]) -> dict:
    def other():
        return org if rnd.random() < 0.04 else rnd.choice([o for o in orgs if o != org])

    def art():
        return ("○○事務委任要綱", "") if rnd.random() < 0.05 else rnd.choice(STATUTORY)

    rows = {"delegations": [], "acceptances": [], "queries": []}
    for _ in range(rnd.randint(0, 3)):
        rows["delegations"].append(delegation(str(rnd.randint(1, 4)), other(),
                                              name=rnd.choice([None, None, None, "別名"])))
    for _ in range(rnd.randint(0, 3)):
        frm = other()
        chain = None
        if rnd.random() < 0.3:
            first = other()
            chain = [(first, frm, *art())]
        rows["acceptances"].append(acceptance(str(rnd.randint(1, 4)), frm, *art(), chain=chain))
    for _ in range(rnd.randint(0, 2)):
        direct = other()
        delegators = [direct]
        chain = None
        if rnd.random() < 0.4:
            up = other()
            delegators = [up, direct] if rnd.random() < 0.7 else [direct]
            chain = [(up, direct, *art()), (direct, org, *art())]
        rows["queries"].append(query(str(rnd.randint(1, 3)), delegators, *art(), chain=chain))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_incremental_matching_leaves_what_a_full_rematch_would(matching, seed):
    rnd = random.Random(seed)
    orgs = [f"13{i:03d}1" for i in range(8)] + [f"U13000000{i}" for i in range(3)]
    app_of = {org: i + 1 for i, org in enumerate(orgs)}
    next_app = len(orgs) + 1
    for step in range(70):
        roll = rnd.random()
        org = rnd.choice(orgs)
        if roll < 0.1:
            matching.withdraw(app_of[org], org)
            app_of[org], next_app = next_app, next_app + 1
        elif roll < 0.25:
            with matching.ctx.transaction() as session:
                pending = list(session.scalars(select(Confirmation).order_by(Confirmation.id)))
                if pending:
                    c = rnd.choice(pending)
                    status = rnd.choice(["confirmed", "disputed"])
                    matcher.answer(matching.ctx, session, c, status,
                                   "理由" if status == "disputed" else None,
                                   {"org_id": c.delegator_org, "login": "x", "name": "x",
                                    "department": ""})
        else:
            matching.submit(app_of[org], org, **_random_rows(rnd, org, orgs))
        if step % 10 == 9:
            with matching.ctx.transaction() as session:
                assert matcher.rematch_all(session) == 0, f"step {step}"
    statuses = {r["status"] for app in app_of.values() for r in matching.records(app)}
    assert len(statuses) >= 4   # the scenario exercised several outcomes


def _unrelated(matching, start: int, count: int) -> None:
    with matching.ctx.transaction() as session:
        for i in range(start, start + count):
            a, b = f"27{i:04d}", f"28{i:04d}"
            matcher.store_records(session, {"application_id": 1000 + 2 * i, "round": 1,
                                            "org_id": a, "provision_delegations": [
                                                delegation("10", b)]})
            matcher.store_records(session, {"application_id": 1001 + 2 * i, "round": 1,
                                            "org_id": b, "provision_acceptances": [
                                                acceptance("10", a)]})
        matcher.rematch_all(session)


def _resubmit_cost(matching, round_: int) -> int:
    payload = {"application_id": 1, "round": round_, "org_id": "131016",
               "provision_delegations": [delegation("10", "131024")],
               "query_delegations": [query("5", ["130001"])]}
    with matching.ctx.transaction() as session:
        matcher.receive(matching.ctx, session, payload)
        return session.info["matching_evaluated"]


def test_a_resubmission_re_matches_the_same_records_however_many_others_exist(matching):
    matching.submit(2, "131024", acceptances=[acceptance("10", "131016")])
    _unrelated(matching, 0, 10)
    small = _resubmit_cost(matching, 1)
    _unrelated(matching, 10, 400)
    large = _resubmit_cost(matching, 2)
    assert small == large == 3     # its two records and the counterpart's
    assert matching.one(2)["status"] == "matched"


def test_every_report_about_an_application_carries_a_larger_seq(matching):
    """review keeps the report with the largest (round, seq), so the numbers must grow
    with every report, across rounds too."""
    from tests.matching.conftest import query

    matching.submit(1, "U131000001", queries=[query("5", ["131016"])])
    first = matching.reported()[1]["seq"]
    matching.submit(2, "131016")                 # a counterpart files: 1 is reported again
    matching.submit(1, "U131000001", queries=[query("5", ["131016", "131024"])])
    second = matching.reported()[1]["seq"]
    assert first >= 1 and second > first
