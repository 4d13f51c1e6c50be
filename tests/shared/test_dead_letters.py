"""A message whose handler keeps failing is not republished without end: after
NWS_DEAD_LETTER_AFTER attempts it is a dead letter (its sender acknowledged), the owner's
application says a problem occurred, `nws status` counts it, and an operator retries it
after the fix (`nws dead-letters list|retry ID`).

(A plugin's fault does not get here: it becomes a finding or an unroutable case,
tests/plugins/test_plugin_faults.py. A bug of the suite itself does.)"""
from __future__ import annotations

from sqlalchemy import func, select

from services.intake import validation
from tests import factories
from tests.conftest import Suite, wait_for
from tests.pages.support import client_for, text_of
from tests.test_lifecycle_embedded import prepare_submitted


class Crashing:
    """A bug in the suite: the submission's validation task fails while ``broken``."""

    def __init__(self, original):
        self.original, self.broken = original, True

    def __call__(self, *args):
        if self.broken:
            raise RuntimeError("bug in the suite")
        return self.original(*args)


def test_a_message_that_keeps_failing_becomes_a_dead_letter_and_is_retried(tmp_path,
                                                                          monkeypatch):
    s = Suite(tmp_path / "var", env={"NWS_OUTBOX_REDELIVER_AFTER": "0.1",
                                     "NWS_SWEEP_INTERVAL": "0.1", "NWS_DEAD_LETTER_AFTER": "3"})
    try:
        crashing = Crashing(validation.validate_application)
        monkeypatch.setattr(validation, "validate_application", crashing)
        ctx = s.ctx("intake")
        app_id = prepare_submitted(s)
        dead = wait_for(lambda: ctx.dead_letters(), what="a dead letter")
        assert [(d["type"], d["attempts"]) for d in dead] == [
            ("application.validation_requested", 3)]
        assert "bug in the suite" in dead[0]["error"]
        # the sender (intake's own outbox) was acknowledged: nothing is republished
        def unacked():
            with ctx.transaction() as session:
                return session.scalar(select(func.count()).select_from(ctx.Outbox).where(
                    ctx.Outbox.acked_at.is_(None)))
        wait_for(lambda: unacked() == 0, what="outbox acknowledged")
        app = s.get_app(app_id)
        assert app["processing_problem"] is True and app["status"] == "validating"
        page = text_of(client_for(s, "demo-applicant").get(f"/applicant/applications/{app_id}"))
        assert "処理中に問題が発生しました" in page

        # the operator sees it, fixes the plugin and retries it from the command line
        from click.testing import CliRunner

        from nws.cli import main

        env = {"NWS_DATA_DIR": str(tmp_path / "var"), "NWS_DATABASE_URL": ""}
        runner = CliRunner()
        listed = runner.invoke(main, ["dead-letters", "list"], env=env)
        assert listed.exit_code == 0, listed.output
        assert dead[0]["id"] in listed.output and "bug in the suite" in listed.output
        status = runner.invoke(main, ["status", "--timeout", "0.2"], env=env)
        assert "dead letters: intake 1" in status.output, status.output
        metrics = s.client.get("/metrics").get_data(as_text=True)
        assert 'nws_dead_letters{service="intake"} 1.0' in metrics
        crashing.broken = False
        retried = runner.invoke(main, ["dead-letters", "retry", dead[0]["id"]], env=env)
        assert retried.exit_code == 0 and "sent to intake again" in retried.output
        again = runner.invoke(main, ["dead-letters", "retry", dead[0]["id"]], env=env)
        assert again.exit_code != 0                                  # once
        s.wait_status(app_id, "primary_review", timeout=60)
        assert ctx.dead_letters() == [] and s.get_app(app_id)["processing_problem"] is False
    finally:
        s.close()


def _leave_a_start_mark(ctx, envelope: dict, seconds_ago: float) -> None:
    """What a delivery whose worker process was killed leaves behind: its start mark."""
    import datetime as dt

    from shared.db import utcnow

    with ctx.transaction() as session:
        ctx._letter(session, envelope).started_at = utcnow() - dt.timedelta(seconds=seconds_ago)


def _validation_envelope(s) -> dict:
    h = s.headers("demo-applicant")
    app_id = factories.create_application(s.client, h)
    factories.put_forms(s.client, h, app_id, {"02-01": factories.form_02_01()})
    ctx = s.ctx("intake")
    with ctx.transaction() as session:
        return session.scalars(select(ctx.Outbox.envelope).where(
            ctx.Outbox.task_name == "nws.intake.form.validation_requested")).one()


def test_a_delivery_whose_worker_died_counts_as_lost_not_as_a_handler_failure(tmp_path):
    from services.intake import tasks

    s = Suite(tmp_path / "var", start_worker=False, env={"NWS_LOST_DELIVERY_AFTER": "2"})
    try:
        ctx = s.ctx("intake")
        envelope = _validation_envelope(s)
        # a copy published while the first delivery may still run: not counted
        _leave_a_start_mark(ctx, envelope, seconds_ago=1)
        with ctx.transaction() as session:
            assert ctx._start_attempt(session, envelope, redelivered=False) is False
            assert ctx._letter(session, envelope).lost == 0
        # redelivered by the broker after its worker process was lost: one lost delivery,
        # and this delivery does the work
        assert ctx.consume(envelope, tasks.FORM_VALIDATION, redelivered=True) == "done"
        with ctx.transaction() as session:
            row = session.get(ctx.DeadLetter, envelope["id"])
            assert (row.status, row.lost, row.attempts, row.started_at) == ("done", 1, 0, None)
        assert ctx.dead_letters() == []
    finally:
        s.close()


def test_a_message_whose_worker_keeps_dying_becomes_a_dead_letter(tmp_path):
    from services.intake import tasks

    s = Suite(tmp_path / "var", start_worker=False, env={"NWS_LOST_DELIVERY_AFTER": "2"})
    try:
        ctx = s.ctx("intake")
        envelope = _validation_envelope(s)
        limit = ctx.settings.task_time_limit
        for lost in (1, 2):     # marks older than the soft limit: those deliveries died
            _leave_a_start_mark(ctx, envelope, seconds_ago=limit)
            with ctx.transaction() as session:
                dead = ctx._start_attempt(session, envelope, redelivered=False)
                assert ctx._letter(session, envelope).lost == lost
            assert dead is (lost == 2)
        [letter] = ctx.dead_letters()
        assert (letter["lost"], letter["attempts"]) == (2, 0)
        assert "worker process ended" in letter["error"]
        assert ctx.consume(envelope, tasks.FORM_VALIDATION) == "dead"    # skipped now
        assert ctx.retry_dead_letter(envelope["id"]) is True           # counts start over
        with ctx.transaction() as session:
            row = session.get(ctx.DeadLetter, envelope["id"])
            assert (row.status, row.lost, row.started_at) == ("retried", 0, None)
    finally:
        s.close()
