"""Alembic, one history per service (version table ``alembic_version_<service>``), so
each service migrates its own tables, in its own database or in a shared one."""
from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

# The PostgreSQL advisory lock every `nws db upgrade` (and `nws serve`) takes for its
# migration transaction: upgrades started at once — two operators, or every container
# of a deployment at start — run one after the other, and the later ones find the
# database current and do nothing. (SQLite admits one writer anyway.)
MIGRATION_LOCK = 0x6E77_7300      # "nws\0"


def alembic_config(service: str, migrations: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def version_table(service: str) -> str:
    return f"alembic_version_{service}"


def upgrade(service: str, migrations: Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, migrations, url), revision)


def is_current(service: str, migrations: Path, url: str) -> bool:
    """Whether the database at ``url`` is at the newest revision of the service's
    history (a connection of its own; see :func:`migrations_current`)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return migrations_current(service, migrations, conn)
    finally:
        engine.dispose()


@functools.lru_cache(maxsize=None)
def _heads(service: str, migrations: Path) -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config(service, migrations, "sqlite://"))
    return frozenset(script.get_heads())


def migrations_current(service: str, migrations: Path, conn) -> bool:
    """Whether the database on ``conn`` is at the newest revision of the service's
    history (the scripts are read once per process; a readiness probe costs one query)."""
    ctx = MigrationContext.configure(conn, opts={"version_table": version_table(service)})
    return set(ctx.get_current_heads()) == _heads(service, migrations)


def run_env(target_metadata, context) -> None:
    """The body of every service's ``migrations/env.py``."""
    from sqlalchemy import engine_from_config, pool

    config = context.config
    service = config.attributes.get("service") or target_metadata.info["service"]
    opts = dict(target_metadata=target_metadata, version_table=version_table(service),
                render_as_batch=True, compare_type=True)
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"),
                          literal_binds=True, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Held until this transaction ends; the version table is read after it.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            context.run_migrations()
    engine.dispose()
