"""The review worker's periodic work, as a Celery worker bootstep (the pattern of
:class:`shared.messaging.OutboxSweeper`): overdue reminders, webhook retries, and the
deadline notices of applicants whose case was returned.

All are safe with several review workers: a reminder is unique per case and stage, a
deadline notice per case, round and threshold, and a webhook delivery is claimed by one
worker at a time.
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
    with ctx.transaction() as session:
        told = cases.notify_deadlines(ctx, session)
    return {"webhooks_queued": retried, "reminders": reminded, "deadline_notices": told}


class ReviewPeriodic(ServicePeriodic):
    """Every ``sweep_interval`` seconds, in workers that serve the review service."""

    service = "review"
    run = staticmethod(tick)
