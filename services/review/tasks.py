"""Tasks of the review service (queue ``review``)."""
from shared.messaging import ack_task, consumer
from services.review import cases

outbox_ack = ack_task("review")


@consumer("review", "application.submitted")
def application_submitted(ctx, session, payload, envelope):
    cases.receive_submission(ctx, session, payload)


@consumer("review", "matching.results")
def matching_results(ctx, session, payload, envelope):
    cases.store_matching(session, payload)
