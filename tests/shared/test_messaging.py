"""The outbox, the inbox and the consumer wrapper (no worker: tasks called directly)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from shared.db import utcnow
from shared.messaging import PermanentMessageError, queue_of, route_task, task_name
from tests.conftest import Suite


class RecordingCelery:
    """Stands in for the broker connection only: records what would be published."""

    def __init__(self, fail: bool = False):
        self.sent: list[tuple[str, dict, str]] = []
        self.fail = fail

    def send_task(self, name, args=(), queue=None, **_kw):
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append((name, args[0], queue))


@pytest.fixture
def ctx(idle_suite: Suite):
    ctx = idle_suite.ctx("review")
    ctx.celery = RecordingCelery()
    return ctx


def _status_payload(app_id=1):
    return {"application_id": app_id, "round": 1, "status": "primary_review",
            "event": "routed", "stage": "primary", "reviewer_org_id": "130001",
            "actor": None, "comment": None, "at": utcnow().isoformat()}


def _emit_work(ctx, session, n=1):
    """A message that asks for work (published at once, unlike one that only informs)."""
    return ctx.emit(session, "review", "webhook.delivery_requested", {"delivery_id": f"d{n}"})


def outbox_rows(ctx):
    with ctx.db.transaction() as s:
        return s.scalars(select(ctx.Outbox)).all()


def test_task_names_route_to_their_service_queue():
    assert task_name("review", "application.submitted") == "nws.review.application.submitted"
    assert queue_of("nws.master.application.approved") == "master"
    assert route_task("nws.intake.outbox.ack", (), {}, {}) == {"queue": "intake"}
    with pytest.raises(ValueError):
        queue_of("other.review.x")


def test_messages_are_published_only_after_the_transaction_commits(ctx):
    with ctx.transaction() as session:
        _emit_work(ctx, session)
        assert ctx.celery.sent == []          # not before the commit
    assert [s[0] for s in ctx.celery.sent] == ["nws.review.webhook.delivery_requested"]
    assert ctx.celery.sent[0][2] == "review"
    (row,) = outbox_rows(ctx)
    assert row.published_at is not None and row.acked_at is None


def test_a_rolled_back_transaction_publishes_nothing(ctx):
    with pytest.raises(RuntimeError):
        with ctx.transaction() as session:
            _emit_work(ctx, session)
            raise RuntimeError("boom")
    assert ctx.celery.sent == []
    assert outbox_rows(ctx) == []


def test_an_invalid_payload_is_refused_at_the_sender(ctx):
    from marshmallow import ValidationError

    with pytest.raises(ValidationError):
        with ctx.transaction() as session:
            ctx.emit(session, "intake", "application.status_changed", {"application_id": "x"})


def test_sweeper_republishes_unacknowledged_messages_and_stops_after_ack(ctx):
    with ctx.transaction() as session:
        msg_id = _emit_work(ctx, session)
    assert ctx.sweep() == 0                   # not due yet
    with ctx.db.transaction() as s:
        s.get(ctx.Outbox, msg_id).next_attempt_at = utcnow() - dt.timedelta(seconds=1)
    assert ctx.sweep() == 1
    assert len(ctx.celery.sent) == 2
    with ctx.db.transaction() as s:
        row = s.get(ctx.Outbox, msg_id)
        assert row.attempts == 2
        # the delay doubles with each send: twice the base delay after the second
        delay = (row.next_attempt_at - row.published_at).total_seconds()
        assert delay == pytest.approx(2 * ctx.settings.outbox_redeliver_after, rel=0.01)
        row.next_attempt_at = utcnow() - dt.timedelta(seconds=1)
    ctx.acknowledge(msg_id)
    assert ctx.sweep() == 0


def test_a_broker_that_is_down_leaves_the_message_for_the_sweeper(ctx):
    ctx.celery = RecordingCelery(fail=True)
    with ctx.transaction() as session:
        msg_id = _emit_work(ctx, session)
    with ctx.db.transaction() as s:
        row = s.get(ctx.Outbox, msg_id)
        assert row.published_at is None and "broker down" in row.last_error
        row.next_attempt_at = utcnow()
    ctx.celery = RecordingCelery()
    assert ctx.sweep() == 1
    assert ctx.celery.sent[0][1]["id"] == msg_id


def _envelope(ctx, message_type, payload, msg_id="00000000-0000-0000-0000-000000000001"):
    return {"v": 1, "id": msg_id, "type": message_type, "version": 1, "sender": "intake",
            "sent_at": utcnow().isoformat(), "correlation_id": msg_id, "payload": payload}


def test_a_redelivered_message_changes_nothing_twice(ctx):
    calls = []

    def handler(c, session, payload, env):
        calls.append(payload["application_id"])

    env = _envelope(ctx, "matching.results", {"application_id": 7, "round": 1, "records": []})
    assert ctx.consume(env, handler) == "done"
    assert ctx.consume(env, handler) == "duplicate"
    assert calls == [7]
    # each delivery is acknowledged to the sender, beside the queues: no message is sent
    assert ctx.celery.sent == []
    assert sorted(ctx.side.pop_acks("intake", 10)) == [env["id"]]   # one file per id


def test_a_failing_handler_leaves_no_trace_so_the_retry_runs_it(ctx):
    env = _envelope(ctx, "matching.results", {"application_id": 7, "round": 1, "records": []})

    def failing(c, session, payload, e):
        raise ConnectionError("database went away")

    with pytest.raises(ConnectionError):
        ctx.consume(env, failing)
    with ctx.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ctx.Inbox)) == 0
    assert ctx.consume(env, lambda *a: None) == "done"


def test_a_malformed_message_is_a_permanent_error(ctx):
    with pytest.raises(PermanentMessageError):
        ctx.consume({"id": "x"}, lambda *a: None)
    env = _envelope(ctx, "matching.results", {"application_id": "seven"})
    with pytest.raises(PermanentMessageError):
        ctx.consume(env, lambda *a: None)
    env = _envelope(ctx, "no.such.message", {})
    with pytest.raises(PermanentMessageError):
        ctx.consume(env, lambda *a: None)


def test_celery_configuration_is_json_only_late_ack_prefetch_one(idle_suite):
    conf = idle_suite.runtime.celery.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert {q.name for q in conf.task_queues} >= {"intake", "review", "matching", "master"}


def test_acknowledgements_are_drained_in_one_batch_by_the_sender(ctx):
    with ctx.transaction() as session:
        ids = [_emit_work(ctx, session, n) for n in range(5)]
    ctx.side.push_acks("review", ids[:3])
    assert ctx.drain_acks() == 3
    assert {r.id for r in outbox_rows(ctx) if r.acked_at is not None} == set(ids[:3])
    assert ctx.drain_acks() == 0


def test_messages_that_only_inform_go_in_one_batch_per_receiver(ctx, idle_suite):
    """Status reports are not published one by one: the batch publisher sends them
    together; each envelope is still consumed on its own, exactly once."""
    from shared.messaging import run_batch

    with ctx.transaction() as session:
        first = ctx.emit(session, "intake", "application.status_changed", _status_payload(1))
        _emit_work(ctx, session)
    with ctx.transaction() as session:
        second = ctx.emit(session, "intake", "application.status_changed", _status_payload(2))
    # after the commits only the work was published
    assert [s[0] for s in ctx.celery.sent] == ["nws.review.webhook.delivery_requested"]
    assert ctx.publish_informing() == 2
    name, body, queue = ctx.celery.sent[-1]
    assert (name, queue) == ("nws.intake.batch", "intake")
    assert [e["id"] for e in body["envelopes"]] == [first, second]
    assert ctx.publish_informing() == 0          # sent: due again only if not acknowledged

    intake = idle_suite.ctx("intake")
    seen = []
    import shared.messaging as messaging

    original = messaging.HANDLERS[("intake", "application.status_changed")]
    messaging.HANDLERS[("intake", "application.status_changed")] = (
        lambda c, session, payload, env: seen.append(payload["application_id"]))
    try:
        assert run_batch(intake, body) == {"done": 2}
        assert run_batch(intake, body) == {"duplicate": 2}   # delivered again: no-ops
    finally:
        messaging.HANDLERS[("intake", "application.status_changed")] = original
    assert seen == [1, 2]
    assert ctx.drain_acks() == 2                 # each envelope acknowledged (once a file)
    assert all(r.acked_at is not None for r in outbox_rows(ctx)
               if r.task_name == "nws.intake.application.status_changed")
