"""Reference organisations and the legal catalog for a first look (the whole code
table; idempotent), plus one example 広域連合 labelled as an example."""
from shared.messaging import ServiceContext
from services.intake.catalog import load_refdata
from services.intake.registry import announce_directory, seed_example_union


def seed(ctx: ServiceContext) -> dict:
    with ctx.transaction() as session:
        result = load_refdata(session)
        session.flush()
        result["example_union_added"] = seed_example_union(session)
        announce_directory(ctx, session)
        return result
