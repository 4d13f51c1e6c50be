"""identity: accounts, password login and the signed tokens every service verifies."""
from pathlib import Path

from shared.service import ServiceDefinition


def definition() -> ServiceDefinition:
    from shared import audit_web
    from services.identity import account_pages, api, models, notify_api, pages, seed, sessions

    return ServiceDefinition(
        name="identity", metadata=models.Base.metadata, outbox_model=models.Outbox,
        inbox_model=models.Inbox, dead_letter_model=models.DeadLetter,
        audit_model=models.AuditLog,
        migrations=Path(__file__).parent / "migrations",
        blueprints=lambda: [api.bp, notify_api.bp, pages.bp, account_pages.bp,
                            *audit_web.blueprints("identity", models.AuditLog)], tasks_module="services.identity.tasks", seed=seed.seed,
        auth_state=sessions.snapshot)
