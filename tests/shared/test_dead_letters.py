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
