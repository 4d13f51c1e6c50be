"""Tasks of the intake service (queue ``intake``)."""
from shared.messaging import ack_task, consumer
from services.intake import applications as apps

outbox_ack = ack_task("intake")


@consumer("intake", "form.validation_requested")
def validate_form(ctx, session, payload, envelope):
    apps.validate_form_task(ctx.plugins, session, payload)


@consumer("intake", "application.validation_requested")
def validate_application(ctx, session, payload, envelope):
    apps.validate_application_task(ctx, ctx.plugins, session, payload)


@consumer("intake", "application.status_changed")
def status_changed(ctx, session, payload, envelope):
    apps.apply_status_change(ctx, session, payload, ctx.plugins)


@consumer("intake", "account.issued")
def account_issued(ctx, session, payload, envelope):
    from services.intake import account_requests

    account_requests.apply_issued(session, payload)


@consumer("intake", "upload.received")
def upload_received(ctx, session, payload, envelope):
    from services.intake import uploads

    uploads.process_upload(ctx.plugins, session, payload)


@consumer("intake", "print.pdf_requested")
def make_print_pdf(ctx, session, payload, envelope):
    from services.intake import printing

    printing.make_pdf(ctx, session, payload)


@consumer("intake", "schedule.published")
def schedule_published(ctx, session, payload, envelope):
    from services.intake import deadlines

    deadlines.store_schedule(session, payload)
