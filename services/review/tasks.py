"""Tasks of the review service (queue ``review``)."""
from shared.messaging import ack_task, claim_then_send, consumer
from services.review import cases, webhooks

outbox_ack = ack_task("review")


@consumer("review", "application.submitted")
def application_submitted(ctx, session, payload, envelope):
    cases.receive_submission(ctx, session, payload)


@consumer("review", "matching.results")
def matching_results(ctx, session, payload, envelope):
    cases.store_matching(session, payload)


@consumer("review", "application.withdrawn")
def application_withdrawn(ctx, session, payload, envelope):
    cases.withdraw(ctx, session, payload)


# Claim the delivery (once per message, through the inbox), then POST it with no
# transaction open and record the attempt. A failure is retried later by the review
# periodic task, with exponential backoff.
deliver_webhook = claim_then_send(
    "review", "webhook.delivery_requested",
    lambda ctx, session, payload: webhooks.claim(session, payload["delivery_id"]), webhooks.send)


@consumer("review", "notification.published")
def notification_published(ctx, session, payload, envelope):
    webhooks.publish_notice(ctx, session, payload)


@consumer("review", "organisations.directory")
def organisations_directory(ctx, session, payload, envelope):
    from services.review import directory

    directory.store(session, payload)
