"""Tasks of the master service (queue ``master``)."""
from shared.messaging import ack_task, consumer
from services.master import registry

outbox_ack = ack_task("master")


@consumer("master", "application.approved")
def application_approved(ctx, session, payload, envelope):
    registry.register(ctx, session, payload)
