"""Reference organisations for a first look (the whole code table; idempotent)."""
from shared.messaging import ServiceContext
from services.intake.registry import load_registry


def seed(ctx: ServiceContext) -> dict:
    with ctx.transaction() as session:
        return load_registry(session)
