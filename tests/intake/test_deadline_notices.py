"""Applicants whose 接続申請 was never submitted are told the phase deadline is near
(NWS_DEADLINE_NOTICE_DAYS) or passed, once per application and threshold; submitted
applications are not (review tells the applicants of returned ones)."""
from __future__ import annotations

from sqlalchemy import select

from services.identity.models import Account, Notification
from services.intake import deadlines
from tests import factories
from tests.conftest import wait_for
from tests.intake.test_deadlines import days, set_phase


def notices(suite, app_id: int) -> list[Notification]:
    with suite.ctx("identity").transaction() as session:
        return list(session.scalars(select(Notification).where(
            Notification.application_id == app_id)))


def test_an_unsubmitted_application_is_told_once_per_threshold(suite):
    h = suite.headers("demo-applicant")
    draft = factories.create_application(suite.client, h)
    set_phase(suite, "connection_request", days(1), days(-30))
    # the intake worker's periodic work (or this call) asks identity to tell 千代田区
    with suite.ctx("intake").transaction() as session:
        deadlines.notify_unsubmitted(suite.ctx("intake"), session)
    told = wait_for(lambda: notices(suite, draft), what="the deadline notice")
    assert {n.kind for n in told} == {"deadline_near"}
    with suite.ctx("identity").transaction() as session:
        told_orgs = {session.get(Account, n.account_id).org_id for n in told}
    assert told_orgs == {"131016"}
    # a second run (or another worker) tells nobody again
    with suite.ctx("intake").transaction() as session:
        assert deadlines.notify_unsubmitted(suite.ctx("intake"), session) == 0
    assert len(notices(suite, draft)) == len(told)
    # after the end: one "passed" notice more
    set_phase(suite, "connection_request", days(-1), days(-30))
    with suite.ctx("intake").transaction() as session:
        deadlines.notify_unsubmitted(suite.ctx("intake"), session)
    wait_for(lambda: {"deadline_near", "deadline_passed"} <= {n.kind for n in notices(suite, draft)},
             what="the deadline-passed notice")


def test_a_submitted_application_gets_no_unsubmitted_notice(suite):
    h = suite.headers("demo-applicant")
    app_id = factories.create_application(suite.client, h)
    factories.put_forms(suite.client, h, app_id, factories.all_forms())
    wait_for(lambda: all(f["status"] == "valid" for f in suite.get_app(app_id)["forms"].values()),
             what="forms validated")
    assert suite.client.post(f"/api/intake/applications/{app_id}/submit",
                             headers=h).status_code == 202
    suite.wait_status(app_id, "primary_review")
    set_phase(suite, "connection_request", days(1), days(-30))
    with suite.ctx("intake").transaction() as session:
        deadlines.notify_unsubmitted(suite.ctx("intake"), session)
    assert not [n for n in notices(suite, app_id) if n.kind.startswith("deadline")]
