"""The consumer wrapper with a Redis broker: delivery marks and acknowledgements live on
the side channel (Redis, beside the queues); a plain message costs one transaction, and
the dead-letter table is written only when a delivery was lost or a handler failed.
(No worker: the wrapper is called directly; the services' tables on SQLite, and on
PostgreSQL, where the inbox row and the dead-letter status are one statement.)"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, func, select

from shared.db import utcnow
from shared.messaging import RedisSideChannel
from tests.conftest import Suite
from tests.distributed.conftest import pg_database  # noqa: F401 - a fixture

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sqlite", "postgres"])
def redis_suite(request, tmp_path):
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"test-side-{uuid.uuid4().hex[:8]}:"
    env = {"NWS_BROKER_URL": REDIS, "NWS_BROKER_KEY_PREFIX": prefix,
           "NWS_LOST_DELIVERY_AFTER": "2"}
    if request.param == "postgres":
        env["NWS_DATABASE_URL"] = request.getfixturevalue("pg_database")
    s = Suite(tmp_path / "var", start_worker=False, env=env)
    try:
        assert s.ctx("intake").db.is_sqlite == (request.param == "sqlite")
        yield s
    finally:
        s.close()
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)


def _envelope(n: int = 1) -> dict:
    msg_id = str(uuid.uuid4())
    return {"v": 1, "id": msg_id, "type": "application.status_changed", "version": 1,
            "sender": "review", "sent_at": utcnow().isoformat(), "correlation_id": msg_id,
            "payload": {"application_id": n, "round": 1, "status": "primary_review",
                        "event": "routed", "stage": "primary", "reviewer_org_id": "130001",
                        "actor": None, "comment": None, "at": utcnow().isoformat()}}


def _letter(ctx, msg_id):
    with ctx.db.transaction() as session:
        return session.get(ctx.DeadLetter, msg_id)


def test_a_plain_message_is_one_transaction_and_its_ack_waits_beside_the_queue(redis_suite):
    intake, review = redis_suite.ctx("intake"), redis_suite.ctx("review")
    assert isinstance(intake.side, RedisSideChannel) and intake.side is review.side
    commits = []
    event.listen(intake.db.engine, "commit", lambda *_a: commits.append(1))
    env = _envelope()
    calls = []
    assert intake.consume(env, lambda c, s, p, e: calls.append(p["application_id"])) == "done"
    assert calls == [1] and len(commits) == 1
    assert _letter(intake, env["id"]) is None                   # no dead-letter row written
    assert intake.side.client.exists(intake.side._mark("intake", env["id"])) == 0
    assert intake.consume(env, lambda *a: calls.append("again")) == "duplicate"
    assert calls == [1]
    # both deliveries acknowledged, in review's list: review drains them in one batch
    assert intake.side.client.llen(intake.side._acks("review")) == 2
    assert review.drain_acks() == 2 and review.drain_acks() == 0


def test_a_delivery_that_left_its_mark_counts_as_lost_when_redelivered(redis_suite):
    intake = redis_suite.ctx("intake")
    env = _envelope()
    intake.side.mark("intake", env["id"])       # an earlier delivery whose worker died
    assert intake.consume(env, lambda *a: None, redelivered=True) == "done"
    row = _letter(intake, env["id"])
    assert (row.status, row.lost, row.attempts, row.started_at) == ("done", 1, 0, None)


def test_a_fresh_mark_without_redelivery_is_a_twin_not_a_loss(redis_suite):
    intake = redis_suite.ctx("intake")
    env = _envelope()
    intake.side.mark("intake", env["id"])       # the first delivery may still be running
    assert intake.consume(env, lambda *a: None) == "done"
    assert _letter(intake, env["id"]) is None


def test_a_message_whose_worker_keeps_dying_becomes_a_dead_letter(redis_suite):
    intake, review = redis_suite.ctx("intake"), redis_suite.ctx("review")
    env = _envelope()
    calls = []
    with intake.db.transaction() as session:   # one delivery was lost already
        assert intake._count_lost(session, env) is False
    intake.side.mark("intake", env["id"])       # and the next one died too: the limit (2)
    assert intake.consume(env, lambda *a: calls.append(1), redelivered=True) == "dead"
    assert calls == []
    [letter] = intake.dead_letters()
    assert (letter["lost"], letter["attempts"]) == (2, 0)
    assert review.drain_acks() == 1             # the sender need not send it again
    with intake.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(intake.Inbox)) == 0


def test_a_failing_handler_is_counted_and_its_mark_removed(redis_suite):
    intake = redis_suite.ctx("intake")
    env = _envelope()

    def failing(*_a):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        intake.consume(env, failing)
    row = _letter(intake, env["id"])
    assert (row.status, row.attempts, row.lost) == ("failing", 1, 0)
    assert intake.side.client.exists(intake.side._mark("intake", env["id"])) == 0
    assert intake.consume(env, lambda *a: None) == "done"      # the retry, not a lost one
    row = _letter(intake, env["id"])
    assert (row.status, row.attempts, row.lost) == ("done", 1, 0)


def test_a_message_delivered_twice_runs_its_handler_once(redis_suite):
    intake = redis_suite.ctx("intake")
    env = _envelope()
    calls = []
    assert intake.consume(env, lambda *a: calls.append(1)) == "done"
    assert intake.consume(env, lambda *a: calls.append(1), redelivered=True) == "duplicate"
    assert intake.consume(env, lambda *a: calls.append(1)) == "duplicate"
    assert calls == [1]
    with intake.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(intake.Inbox)
                              .where(intake.Inbox.id == env["id"])) == 1
