"""The review worker's periodic work, as a Celery worker bootstep (the pattern of
:class:`shared.messaging.OutboxSweeper`): overdue reminders and webhook retries.

Both are safe with several review workers: a reminder is unique per case and stage, and
a webhook delivery is claimed by one worker at a time.
"""
from __future__ import annotations

import logging

from shared.messaging import ServiceContext, ServicePeriodic
from services.review import cases, webhooks

log = logging.getLogger(__name__)


def tick(ctx: ServiceContext) -> dict:
    """One round of periodic work; returns what it did."""
    with ctx.transaction() as session:
        retried = webhooks.queue_due(ctx, session)
    with ctx.transaction() as session:
        reminded = cases.send_reminders(ctx, session)
    return {"webhooks_queued": retried, "reminders": reminded}


class ReviewPeriodic(ServicePeriodic):
    """Every ``sweep_interval`` seconds, in workers that serve the review service."""

    service = "review"
    run = staticmethod(tick)
