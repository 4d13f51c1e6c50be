"""Tasks of the review service (queue ``review``)."""
from celery import shared_task

from shared.messaging import (TRANSIENT_ERRORS, ack_task, consumer, service_context,
                              task_name)
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


@shared_task(name=task_name("review", "webhook.delivery_requested"), bind=True,
             acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True,
             retry_backoff_max=300, retry_jitter=True, max_retries=12)
def deliver_webhook(self, envelope: dict) -> str:
    """Claim the delivery (once per message, through the inbox), then POST it with no
    transaction open and record the attempt. A failure is retried later by the review
    periodic task, with exponential backoff."""
    ctx = service_context(self.app, "review")
    claimed: list[dict] = []

    def take(ctx_, session, payload, env):
        job = webhooks.claim(session, payload["delivery_id"])
        if job is not None:
            claimed.append(job)

    outcome = ctx.consume(envelope, take)
    for job in claimed:
        webhooks.send(ctx, job)
    return outcome


@consumer("review", "organisations.directory")
def organisations_directory(ctx, session, payload, envelope):
    from services.review import directory

    directory.store(session, payload)
