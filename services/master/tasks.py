"""Tasks of the master service (queue ``master``)."""
from celery import shared_task
from marshmallow import ValidationError

from shared.contracts import load_payload
from shared.messaging import (TRANSIENT_ERRORS, EnvelopeSchema, PermanentMessageError,
                              ack_task, consumer, service_context, task_name)
from services.master import distribution, registry

outbox_ack = ack_task("master")


@consumer("master", "application.approved")
def application_approved(ctx, session, payload, envelope):
    registry.register(ctx, session, payload)


@consumer("master", "matching.results")
def matching_results(ctx, session, payload, envelope):
    registry.record_matching(session, payload)


@shared_task(name=task_name("master", "master.delivery_requested"), bind=True,
             acks_late=True, max_retries=None, autoretry_for=TRANSIENT_ERRORS,
             retry_backoff=True, retry_backoff_max=300, retry_jitter=True)
def delivery_requested(self, envelope: dict) -> str:
    """POST one version to one subscriber. The delivery row is the guard (a repeat of a
    finished delivery does nothing); the outbox message is acknowledged only once the
    delivery is finished, so if a scheduled retry is lost the sweeper sends it again."""
    try:
        env = EnvelopeSchema().load(envelope)
        payload = load_payload(env["type"], env["version"], env["payload"])
    except (ValidationError, KeyError) as exc:
        raise PermanentMessageError(f"rejected message: {exc}") from exc
    ctx = service_context(self.app, "master")
    outcome = distribution.attempt(ctx, payload["delivery_id"])
    if outcome.action == "done":
        ctx.acknowledge(env["id"])
    elif outcome.action == "retry":
        raise self.retry(countdown=outcome.delay, max_retries=None)
    return outcome.action
