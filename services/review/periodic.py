"""The review worker's periodic work, as a Celery worker bootstep (the pattern of
:class:`shared.messaging.OutboxSweeper`): overdue reminders and webhook retries.

Both are safe with several review workers: a reminder is unique per case and stage, and
a webhook delivery is claimed by one worker at a time.
"""
from __future__ import annotations

import logging

from celery import bootsteps

from shared.messaging import ServiceContext, service_context
from services.review import cases, webhooks

log = logging.getLogger(__name__)


def tick(ctx: ServiceContext) -> dict:
    """One round of periodic work; returns what it did."""
    with ctx.transaction() as session:
        retried = webhooks.queue_due(ctx, session)
    with ctx.transaction() as session:
        reminded = cases.send_reminders(ctx, session)
    return {"webhooks_queued": retried, "reminders": reminded}


class ReviewPeriodic(bootsteps.StartStopStep):
    """Every ``sweep_interval`` seconds, in workers that serve the review service."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        self.tref = None

    def start(self, worker):
        app = worker.app
        if "review" not in getattr(app, "nws_sweep_services", ()):
            return
        ctx = service_context(app, "review")

        def run():
            try:
                tick(ctx)
            except Exception:
                log.exception("review periodic work failed")

        self.tref = worker.timer.call_repeatedly(app.nws_settings.sweep_interval, run,
                                                 priority=10)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
