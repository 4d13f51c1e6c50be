"""matching: delegation cross-matching, confirmation requests and chain checks."""
from pathlib import Path

from shared.service import ServiceDefinition


def definition() -> ServiceDefinition:
    from shared import audit_web
    from services.matching import api, models, pages

    return ServiceDefinition(
        name="matching", metadata=models.Base.metadata, outbox_model=models.Outbox,
        inbox_model=models.Inbox, dead_letter_model=models.DeadLetter,
        audit_model=models.AuditLog,
        migrations=Path(__file__).parent / "migrations",
        blueprints=lambda: [api.bp, pages.bp,
                            *audit_web.blueprints("matching", models.AuditLog)], tasks_module="services.matching.tasks")
