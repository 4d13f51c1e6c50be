"""review: routing to the reviewers by plugins, the two-stage decisions, and what
reviewers see."""
from pathlib import Path

from shared.service import ServiceDefinition


def definition() -> ServiceDefinition:
    from shared import audit_web
    from services.review import api, models, pages

    return ServiceDefinition(
        name="review", metadata=models.Base.metadata, outbox_model=models.Outbox,
        inbox_model=models.Inbox, dead_letter_model=models.DeadLetter,
        audit_model=models.AuditLog,
        migrations=Path(__file__).parent / "migrations",
        blueprints=lambda: [api.bp, pages.bp,
                            *audit_web.blueprints("review", models.AuditLog)], tasks_module="services.review.tasks")
