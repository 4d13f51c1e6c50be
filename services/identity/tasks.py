"""Tasks of the identity service (queue ``identity``)."""
from shared.messaging import ack_task, consumer
from services.identity import activation

outbox_ack = ack_task("identity")


@consumer("identity", "account.approved")
def account_approved(ctx, session, payload, envelope):
    activation.issue(ctx, session, payload)
