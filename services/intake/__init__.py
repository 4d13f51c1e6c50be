"""intake: the organisation registry, applications and their forms, validation by the
form plugins, and submission."""
from pathlib import Path

from shared.service import ServiceDefinition


def definition() -> ServiceDefinition:
    from shared import audit_web
    from services.intake import (api, api_catalog, api_deadlines, api_forms, api_uploads,
                                 models, pages, seed)

    return ServiceDefinition(
        name="intake", metadata=models.Base.metadata, outbox_model=models.Outbox,
        inbox_model=models.Inbox, dead_letter_model=models.DeadLetter,
        audit_model=models.AuditLog,
        migrations=Path(__file__).parent / "migrations",
        blueprints=lambda: [api.bp, api_catalog.bp, api_deadlines.bp, api_forms.bp, api_uploads.bp, pages.bp, pages.home,
                            *audit_web.blueprints("intake", models.AuditLog)], tasks_module="services.intake.tasks", seed=seed.seed)
