"""Tasks of the intake service (queue ``intake``)."""
from shared.messaging import ServicePeriodic, Staged, ack_task, claim_then_send, consumer
from services.intake import applications as apps
from services.intake import printing, uploads

outbox_ack = ack_task("intake")

# The plugins' validators run with no transaction open (shared.messaging.Staged).
FORM_VALIDATION = Staged(read=apps.read_form_for_validation, work=apps.run_form_validators,
                         write=apps.write_form_findings)
APPLICATION_VALIDATION = Staged(read=apps.read_application_for_validation,
                                work=apps.run_application_validators,
                                write=apps.write_application_findings)

validate_form = consumer("intake", "form.validation_requested")(FORM_VALIDATION)
validate_application = consumer("intake", "application.validation_requested")(
    APPLICATION_VALIDATION)


@consumer("intake", "application.status_changed")
def status_changed(ctx, session, payload, envelope):
    apps.apply_status_change(ctx, session, payload, ctx.plugins)


@consumer("intake", "account.issued")
def account_issued(ctx, session, payload, envelope):
    from services.intake import account_requests

    account_requests.apply_issued(session, payload)


# A workbook is read and its forms validated with no transaction open (Staged, too).
UPLOAD_PROCESSING = Staged(read=uploads.read_upload, work=uploads.read_and_validate,
                           write=uploads.store_upload)
upload_received = consumer("intake", "upload.received")(UPLOAD_PROCESSING)


# The print view is read in the task's transaction, converted to PDF with no
# transaction open (seconds), and the outcome stored in a short transaction.
make_print_pdf = claim_then_send("intake", "print.pdf_requested", printing.claim_pdf,
                                 printing.convert_pdf)


@consumer("intake", "schedule.published")
def schedule_published(ctx, session, payload, envelope):
    from services.intake import deadlines

    deadlines.store_schedule(session, payload)


def _tick(ctx) -> dict:
    from services.intake import deadlines

    with ctx.transaction() as session:
        return {"deadline_notices": deadlines.notify_unsubmitted(ctx, session)}


class IntakePeriodic(ServicePeriodic):
    """Deadline notices about applications never submitted, in workers that serve the
    intake service."""

    service = "intake"
    run = staticmethod(_tick)
