"""Tasks of the identity service (queue ``identity``)."""
from shared.messaging import ServicePeriodic, ack_task, claim_then_send, consumer
from services.identity import activation, mailer, notifications

outbox_ack = ack_task("identity")


@consumer("identity", "account.approved")
def account_approved(ctx, session, payload, envelope):
    activation.issue(ctx, session, payload)


@consumer("identity", "notification.requested")
def notification_requested(ctx, session, payload, envelope):
    notifications.receive(ctx, session, payload)


# Claim the mail, send it with no transaction open, record the attempt; a failure is
# retried by the identity periodic task with exponential backoff (mailer).
send_mail = claim_then_send("identity", "mail.send_requested",
                            lambda ctx, session, payload: mailer.claim(session, payload["mail_id"]),
                            mailer.send)


class IdentityPeriodic(ServicePeriodic):
    """Mail retries, in workers that serve the identity service."""

    service = "identity"
    run = staticmethod(mailer.tick)


@consumer("identity", "organisations.directory")
def organisations_directory(ctx, session, payload, envelope):
    from services.identity import organisations

    organisations.store(session, payload)
