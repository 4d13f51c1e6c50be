"""A second run of a master delivery message racing the run that records the delivery,
on PostgreSQL (READ COMMITTED, row locks)."""
from __future__ import annotations

from services.master import distribution
from services.master.models import Delivery, Subscriber
from shared.db import utcnow
from tests.distributed.conftest import race


def test_a_second_run_does_not_overwrite_a_delivery_recorded_meanwhile(distributed):
    ctx = distributed.runtime.services["master"]
    with ctx.db.transaction() as session:
        # The subscriber has acknowledged version 1 already (e.g. by pulling it), so a
        # run that sees the delivery pending would finish it as "superseded".
        sub = Subscriber(url="http://127.0.0.1:9/hook", mode="snapshot", secret="s" * 32,
                         active=True, created_at=utcnow(), created_by="demo-operator",
                         acked_version=1, acked_at=utcnow())
        session.add(sub)
        session.flush()
        delivery = Delivery(subscriber_id=sub.id, version=1, status="pending", attempts=0,
                            created_at=utcnow(), next_attempt_at=utcnow())
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id

    def record_delivered(session) -> None:
        # What the first run's closing transaction does after a successful POST.
        d = session.get(Delivery, delivery_id)
        d.attempts, d.status, d.finished_at = 1, "delivered", utcnow()

    outcomes = []
    race(ctx.db.transaction, record_delivered,
         lambda: outcomes.append(distribution.attempt(ctx, delivery_id)))
    [outcome] = outcomes
    assert outcome.action == "done"
    with ctx.db.transaction() as session:
        assert session.get(Delivery, delivery_id).status == "delivered"
