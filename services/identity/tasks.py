"""Tasks of the identity service (queue ``identity``)."""
from shared.messaging import ack_task

outbox_ack = ack_task("identity")
