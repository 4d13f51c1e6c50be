"""Withdrawal and 総務省's approval fired together, many times, through worker processes
on Redis and PostgreSQL — with the review worker running, and with it stopped between
the two (the withdrawal waits in the queue while the approval commits). Whatever the
order, no application ends both withdrawn and registered: the applicant's status, the
review case and the master agree."""
from __future__ import annotations

import os
import threading

from sqlalchemy import select

from services.identity.accounts import create_account
from services.intake.models import Application, Organisation
from services.master.models import Registration
from services.review.models import ReviewCase
from tests import factories
from tests.conftest import wait_for

# how many applications race in each phase (NWS_RACE_ROUNDS raises it for a longer run)
ROUNDS = int(os.environ.get("NWS_RACE_ROUNDS", "100"))
# every service with a queue (identity takes the notifications the others send)
SERVICES = ("identity", "intake", "review", "matching", "master")


PREFECTURES = ("130001", "110001", "120006", "140007", "270008", "230006")


def _applicants(d, count: int) -> list[tuple[str, str, str]]:
    """(login, org, reviewer) of ``count`` municipalities (市 and 特別区) of a few
    prefectures, one applicant each, and a primary reviewer per prefecture."""
    with d.runtime.services["intake"].transaction() as session:
        orgs = session.execute(select(Organisation.id, Organisation.prefecture_code).where(
            Organisation.prefecture_code.in_(PREFECTURES), Organisation.branch == "executive",
            Organisation.kind.in_(("市", "特別区")), Organisation.id != "131016")
            .order_by(Organisation.id).limit(count)).all()
    assert len(orgs) == count, f"only {len(orgs)} municipalities"
    with d.runtime.services["identity"].transaction() as session:
        for pref in PREFECTURES:
            create_account(session, login=f"race-pref-{pref}", password=factories.DEMO_PASSWORD,
                           org_id=pref, role="primary_reviewer", name=f"審査 {pref}",
                           department="テスト課")
        for org, _pref in orgs:
            create_account(session, login=f"race-{org}", password=factories.DEMO_PASSWORD,
                           org_id=org, role="applicant", name=f"申請 {org}", department="テスト課")
    return [(f"race-{org}", org, f"race-pref-{pref}") for org, pref in orgs]


def _to_secondary(d, applicants) -> list[tuple[str, int]]:
    """Every applicant's application filed and approved by 東京都 (pipelined)."""
    apps, reviewers = [], {}
    for login, org, reviewer in applicants:
        h = d.headers(login)
        app_id = factories.create_application(d.client, h)
        factories.put_forms(d.client, h, app_id, factories.all_forms(org))
        apps.append((login, app_id))
        reviewers[app_id] = reviewer
    for login, app_id in apps:
        wait_for(lambda: all(f["status"] == "valid" for f in
                             d.get_app(app_id, login)["forms"].values()),
                 timeout=180, interval=0.2, what=f"forms of {app_id} validated")
        res = d.client.post(f"/api/intake/applications/{app_id}/submit",
                            headers=d.headers(login))
        assert res.status_code == 202, res.get_json()
    for login, app_id in apps:
        _wait_case(d, app_id, "primary_review")
        res = d.client.post(f"/api/review/applications/{app_id}/decisions",
                            json={"result": "承認", "comment": ""},
                            headers=d.headers(reviewers[app_id]))
        assert res.status_code == 201, res.get_json()
    for login, app_id in apps:
        _wait_case(d, app_id, "secondary_review")
    return apps


def _wait_case(d, app_id: int, status: str) -> None:
    def case_status():
        with d.runtime.services["review"].transaction() as session:
            return session.scalar(select(ReviewCase.status).where(
                ReviewCase.application_id == app_id)) == status
    wait_for(case_status, timeout=180, interval=0.1, what=f"case {app_id} {status}")


def _fire(d, apps) -> dict[int, tuple[int, int]]:
    """Withdrawal and approval of each application at the same moment (two clients
    released by one barrier); returns their HTTP statuses."""
    out: dict[int, tuple[int, int]] = {}
    mic = d.headers("demo-mic")
    for login, app_id in apps:
        h = d.headers(login)
        barrier = threading.Barrier(2)
        got: dict[str, int] = {}

        def withdraw():
            client = d.app.test_client()
            barrier.wait()
            got["withdraw"] = client.post(f"/api/intake/applications/{app_id}/withdraw",
                                          headers=h).status_code

        def approve():
            client = d.app.test_client()
            barrier.wait()
            got["approve"] = client.post(f"/api/review/applications/{app_id}/decisions",
                                         json={"result": "承認", "comment": ""},
                                         headers=mic).status_code

        threads = [threading.Thread(target=withdraw), threading.Thread(target=approve)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        out[app_id] = (got["withdraw"], got["approve"])
    return out


def _settled(d, app_ids) -> dict[int, tuple]:
    """(intake status, withdrawal pending, review status, registered in the master) per
    application, once nothing is in flight any more."""
    def read():
        with d.runtime.services["intake"].transaction() as session:
            intake = {a.id: (a.status, a.withdrawal_requested_at is not None)
                      for a in session.scalars(select(Application).where(
                          Application.id.in_(app_ids)))}
        with d.runtime.services["review"].transaction() as session:
            review = dict(session.execute(select(ReviewCase.application_id, ReviewCase.status)
                                          .where(ReviewCase.application_id.in_(app_ids))).all())
        with d.runtime.services["master"].transaction() as session:
            master = set(session.scalars(select(Registration.application_id).where(
                Registration.application_id.in_(app_ids))))
        return {i: (*intake[i], review[i], i in master) for i in app_ids}

    def done():
        state = read()
        return state if all(s[0] in ("withdrawn", "registered") and not s[1]
                            for s in state.values()) else None
    return wait_for(done, timeout=300, interval=0.5, what="every race settled")


def test_withdrawal_and_approval_fired_together_never_both_win(distributed):
    d = distributed
    for service in SERVICES:
        d.start_worker(service)
    applicants = _applicants(d, 2 * ROUNDS)
    apps = _to_secondary(d, applicants)
    live, stopped = apps[:ROUNDS], apps[ROUNDS:]

    fired = _fire(d, live)                       # review worker running
    d.stop_worker("review")
    fired.update(_fire(d, stopped))              # withdrawals wait in the queue
    d.start_worker("review")

    state = _settled(d, [a for _, a in apps])
    outcomes = {"withdrawn": 0, "registered": 0}
    for app_id, (status, _pending, case, registered) in state.items():
        withdraw_code, approve_code = fired[app_id]
        assert not (status == "withdrawn" and registered), (app_id, state[app_id])
        if status == "withdrawn":
            # the withdrawal won: review closed the case, the approval was refused
            assert case == "withdrawn" and approve_code == 409, (app_id, state[app_id], fired[app_id])
        else:
            # the approval won: registered everywhere, the withdrawal was refused
            assert case == "approved" and registered and approve_code == 201, (
                app_id, state[app_id], fired[app_id])
        assert withdraw_code in (200, 202, 409)
        outcomes[status] += 1
    # with the review worker stopped, every approval came first
    assert all(state[a][0] == "registered" for _, a in stopped)
    assert sum(outcomes.values()) == 2 * ROUNDS
