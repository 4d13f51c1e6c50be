"""Tasks of the matching service (queue ``matching``)."""
from shared.messaging import ack_task, consumer
from services.matching import matcher

outbox_ack = ack_task("matching")


@consumer("matching", "delegations.submitted")
def delegations_submitted(ctx, session, payload, envelope):
    matcher.receive(ctx, session, payload)


@consumer("matching", "delegations.withdrawn")
def delegations_withdrawn(ctx, session, payload, envelope):
    matcher.withdraw(ctx, session, payload)
