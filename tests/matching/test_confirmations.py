"""情報照会 delegation: a 委任情報確認依頼 to every named 委任元, answered through the API."""
from __future__ import annotations

from tests.matching.conftest import query

C, A, B = "U131000001", "131016", "131024"   # a union and two of its members
MEMBERS_BASIS = ("地方自治法第284条", "○○一部事務組合規約")


def _union_files(matching, app_id=1, **changes):
    row = query("5", [A, B], *MEMBERS_BASIS, **changes)
    matching.submit(app_id, C, queries=[row])


def _pending(matching, org, status="pending"):
    res = matching.client.get(f"/api/matching/confirmations?status={status}",
                              headers=matching.headers(org))
    assert res.status_code == 200, res.get_json()
    return res.get_json()["items"]


def _answer(matching, org, confirmation_id, answer, reason=None, role="applicant"):
    body = {"answer": answer} | ({"reason": reason} if reason is not None else {})
    return matching.client.post(f"/api/matching/confirmations/{confirmation_id}", json=body,
                                headers=matching.headers(org, role))


def test_every_named_delegator_is_asked_and_the_record_shows_who_confirmed(matching):
    _union_files(matching)
    record = matching.one(1)
    assert record["status"] == "awaiting_confirmation"
    assert record["not_confirmed"] == [A, B] and record["confirmed_by"] == []

    (req_a,) = _pending(matching, A)
    (req_b,) = _pending(matching, B)
    assert req_a["delegatee"] == C and req_a["item"] == "5"
    assert req_a["basis"]["article"] == "地方自治法第284条"
    assert _pending(matching, "131032") == []

    res = _answer(matching, A, req_a["id"], "確認")
    assert res.status_code == 200, res.get_json()
    assert res.get_json()["status"] == "confirmed"
    record = matching.one(1)
    assert record["status"] == "awaiting_confirmation"
    assert record["confirmed_by"] == [A] and record["not_confirmed"] == [B]
    assert _pending(matching, A) == []
    assert [c["id"] for c in _pending(matching, A, "confirmed")] == [req_a["id"]]

    matching.reported()
    assert _answer(matching, B, req_b["id"], "確認", role="forwarder").status_code == 200
    record = matching.one(1)
    assert record["status"] == "confirmed" and record["not_confirmed"] == []
    # The delegatee's application gets fresh results for review.
    assert matching.reported()[1]["records"][0]["status"] == "confirmed"


def test_a_dispute_without_a_reason_is_refused_and_changes_nothing(matching):
    _union_files(matching)
    (req,) = _pending(matching, A)
    res = _answer(matching, A, req["id"], "異議")
    assert res.status_code == 422
    assert "理由" in str(res.get_json()["error"]["details"])
    res = _answer(matching, A, req["id"], "異議", "   ")
    assert res.status_code == 422
    assert _pending(matching, A)[0]["status"] == "pending"


def test_a_dispute_with_a_reason_shows_on_the_record(matching):
    _union_files(matching)
    (req,) = _pending(matching, A)
    res = _answer(matching, A, req["id"], "異議", "規約の改正前の条項が記載されています。")
    assert res.status_code == 200
    record = matching.one(1)
    assert record["status"] == "disputed"
    assert "規約の改正前" in record["detail"]
    assert _pending(matching, A, "disputed")[0]["reason"] == "規約の改正前の条項が記載されています。"


def test_only_the_named_delegator_may_answer(matching):
    _union_files(matching)
    (req,) = _pending(matching, A)
    assert _answer(matching, "131032", req["id"], "確認").status_code == 404
    assert _answer(matching, C, req["id"], "確認").status_code == 404   # the delegatee itself
    assert _answer(matching, A, req["id"], "確認",
                   role="primary_reviewer").status_code == 403
    assert _answer(matching, A, 999, "確認").status_code == 404
    res = _answer(matching, A, req["id"], "承認")
    assert res.status_code == 422 and "確認" in str(res.get_json()["error"]["details"])
    assert _pending(matching, A)[0]["status"] == "pending"


def test_a_bad_status_filter_is_refused(matching):
    res = matching.client.get("/api/matching/confirmations?status=done",
                              headers=matching.headers(A))
    assert res.status_code == 422


def test_answers_carry_over_a_resubmission_unless_what_was_confirmed_changed(matching):
    _union_files(matching)
    for org in (A, B):
        (req,) = _pending(matching, org)
        assert _answer(matching, org, req["id"], "確認").status_code == 200
    assert matching.one(1)["status"] == "confirmed"

    _union_files(matching)                       # round 2, same content
    assert matching.one(1)["status"] == "confirmed"

    _union_files(matching, procedure="共同処理")   # round 3, the procedure changed
    record = matching.one(1)
    assert record["status"] == "awaiting_confirmation"
    assert record["not_confirmed"] == [A, B]
    assert len(_pending(matching, A)) == 1


def test_a_withdrawn_application_leaves_no_confirmation_request(matching):
    _union_files(matching)
    matching.withdraw(1, C)
    assert _pending(matching, A) == []
    assert _pending(matching, A, "all") == []


def test_results_are_shown_to_the_filer_its_forwarder_and_mic_only(matching):
    matching.submit(1, f"{A}-BOE", queries=[query("5", [A])])
    ok = [(f"{A}-BOE", "applicant"), (A, "forwarder"), ("MIC", "secondary_reviewer"),
          ("MIC", "operator")]
    for org, role in ok:
        res = matching.client.get("/api/matching/applications/1",
                                  headers=matching.headers(org, role))
        assert res.status_code == 200, (org, role)
        body = res.get_json()
        assert body["org_id"] == f"{A}-BOE" and body["records"][0]["kind"] == "query"
    for org, role in [("131024", "applicant"), ("130001", "primary_reviewer"),
                      (A, "applicant")]:
        res = matching.client.get("/api/matching/applications/1",
                                  headers=matching.headers(org, role))
        assert res.status_code == 404, (org, role)
    assert matching.client.get("/api/matching/applications/1").status_code == 401
    assert matching.client.get("/api/matching/applications/2",
                               headers=matching.headers("MIC", "operator")).status_code == 404


def test_an_answer_to_a_request_withdrawn_meanwhile_is_409_not_a_server_error(matching):
    """The request was read, then the delegatee's withdrawal deleted it before the answer
    was written (two transactions interleaving): a clear 409 in Japanese."""
    import pytest
    from sqlalchemy import delete

    from services.matching import matcher
    from services.matching.models import Confirmation
    from shared.web import ApiError

    _union_files(matching)
    (req,) = _pending(matching, A)
    with matching.ctx.transaction() as session:
        c = session.get(Confirmation, req["id"])
        session.execute(delete(Confirmation).where(Confirmation.id == c.id)
                        .execution_options(synchronize_session=False))
        with pytest.raises(ApiError) as raised:
            matcher.answer(matching.ctx, session, c, "confirmed", None, {"org_id": A})
    assert (raised.value.status, raised.value.code) == (409, "confirmation_gone")
    assert "取り消されました" in raised.value.message
